/* colconv: parameters of the non-convolution layers of a network. */
#ifndef COLCONV_LAYERS_H
#define COLCONV_LAYERS_H

#include "colconv/export.h"

CC_EXTERN_C_BEGIN

typedef enum { CC_POOL_MAX = 0, CC_POOL_AVG } cc_pool_kind;

/* Max or average pooling over kernel_h x kernel_w windows (PyTorch's
 * MaxPool2d / AvgPool2d). OH = floor_or_ceil((H + pad_top + pad_bottom -
 * kernel_h) / stride_h) + 1; with ceil_mode, a last window must start inside
 * the input or the top/left padding (PyTorch's rule). Padded cells never win
 * a max; an average divides by the whole window (count_include_pad, padding
 * within the padded input only) or by the cells inside the input. */
typedef struct {
    cc_pool_kind kind;
    int kernel_h, kernel_w;
    int stride_h, stride_w;  /* 0 means the kernel size, as in PyTorch */
    int pad_top, pad_bottom, pad_left, pad_right;
    int ceil_mode;           /* nonzero: round the output size up */
    int count_include_pad;   /* average only: nonzero counts padded cells */
} cc_pool2d_params;

typedef enum {
    CC_ACTIVATION_RELU = 0,
    CC_ACTIVATION_LEAKY_RELU, /* x < 0 ? alpha * x : x */
    CC_ACTIVATION_SIGMOID,
    CC_ACTIVATION_TANH,
    CC_ACTIVATION_ELU,        /* x < 0 ? alpha * (exp(x) - 1) : x */
    CC_ACTIVATION_RELU_CAP,   /* min(max(x, 0), alpha), alpha > 0: ReLU6 is alpha 6 */
    CC_ACTIVATION_HARD_SIGMOID, /* max(0, min(1, alpha * x + 0.5)): PyTorch's
                               * Hardsigmoid is alpha 1/6, Keras's and ONNX's
                               * default 0.2 */
    CC_ACTIVATION_HARD_SWISH  /* x * max(0, min(1, x / 6 + 0.5)) (MobileNet-v3) */
} cc_activation_kind;

typedef struct {
    cc_activation_kind kind;
    float alpha;             /* leaky ReLU slope, ELU scale, ReLU cap or hard
                              * sigmoid slope; ignored otherwise */
} cc_activation;

/* Local response normalisation across channels (AlexNet; Caffe's and
 * PyTorch's LocalResponseNorm): out = x / (k + alpha/size * sum x^2)^beta,
 * the sum over the `size` channels centred on the channel (size odd or even,
 * PyTorch's window: from c - size/2 to c + (size-1)/2), clipped at the
 * borders. size > 0, alpha >= 0, k > 0 (so the base is positive), beta
 * finite. */
typedef struct {
    int size;
    float alpha, beta, k;
} cc_lrn_params;

/* Inference batch normalisation: out = (x - mean) / sqrt(var + epsilon) *
 * scale + shift, per channel. Each array is [channels]. */
typedef struct {
    const float *scale, *shift, *mean, *variance;
    float epsilon;
} cc_batchnorm_params;

CC_EXTERN_C_END

#endif
