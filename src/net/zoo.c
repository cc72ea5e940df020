/* The zoo: classic CNNs by name, built as published. Parameter counts (as
 * published, a batch norm counting scale and shift) are asserted by the
 * tests: lenet5 61,706; lenet 431,080; alexnet 60,965,224; vgg11
 * 132,863,336; vgg16 138,357,544; vgg19 143,667,240; inception3a 163,696;
 * resnet50 25,557,032; bottleneck 70,400. */
#include <stdio.h>
#include <string.h>

#include "net_internal.h"

/* LeCun et al. 1998 with a full C3 table: tanh, average subsampling, and
 * linear outputs (the logits, in place of the RBF layer). */
static cc_node lenet5(cc__nb *b, cc_node x)
{
    x = cc__nb_conv(b, "conv1", x, 6, 5, 1, 0, 1, true);
    x = cc__nb_act(b, "tanh1", x, CC_ACTIVATION_TANH);
    x = cc__nb_pool(b, "pool1", x, CC_POOL_AVG, 2, 2, 0);
    x = cc__nb_conv(b, "conv2", x, 16, 5, 1, 0, 1, true);
    x = cc__nb_act(b, "tanh2", x, CC_ACTIVATION_TANH);
    x = cc__nb_pool(b, "pool2", x, CC_POOL_AVG, 2, 2, 0);
    x = cc__nb_fc(b, "fc1", x, 120);
    x = cc__nb_act(b, "tanh3", x, CC_ACTIVATION_TANH);
    x = cc__nb_fc(b, "fc2", x, 84);
    x = cc__nb_act(b, "tanh4", x, CC_ACTIVATION_TANH);
    return cc__nb_fc(b, "fc3", x, 10);
}

/* Caffe's examples/mnist/lenet.prototxt (deploy: softmax "prob"). */
static cc_node lenet(cc__nb *b, cc_node x)
{
    x = cc__nb_conv(b, "conv1", x, 20, 5, 1, 0, 1, true);
    x = cc__nb_pool(b, "pool1", x, CC_POOL_MAX, 2, 2, 0);
    x = cc__nb_conv(b, "conv2", x, 50, 5, 1, 0, 1, true);
    x = cc__nb_pool(b, "pool2", x, CC_POOL_MAX, 2, 2, 0);
    x = cc__nb_fc(b, "ip1", x, 500);
    x = cc__nb_act(b, "relu1", x, CC_ACTIVATION_RELU);
    x = cc__nb_fc(b, "ip2", x, 10);
    return cc__nb_softmax(b, "prob", x);
}

/* AlexNet's and VGG's classifier: FC 4096, ReLU, dropout, FC 4096, ReLU,
 * dropout, FC 1000, softmax; names are those of the first seven layers. */
static cc_node classifier(cc__nb *b, cc_node x, const char *const names[7])
{
    x = cc__nb_fc(b, names[0], x, 4096);
    x = cc__nb_act(b, names[1], x, CC_ACTIVATION_RELU);
    x = cc__nb_dropout(b, names[2], x);
    x = cc__nb_fc(b, names[3], x, 4096);
    x = cc__nb_act(b, names[4], x, CC_ACTIVATION_RELU);
    x = cc__nb_dropout(b, names[5], x);
    x = cc__nb_fc(b, names[6], x, 1000);
    return cc__nb_softmax(b, "prob", x);
}

/* Caffe's bvlc_alexnet (Krizhevsky et al. 2012): LRN after the first two
 * ReLUs, overlapping 3x3/2 max pools, conv2/4/5 in two groups. */
static cc_node alexnet(cc__nb *b, cc_node x)
{
    const cc_lrn_params lrn = {5, 1e-4f, 0.75f, 1.0f};
    x = cc__nb_conv(b, "conv1", x, 96, 11, 4, 0, 1, true);
    x = cc__nb_act(b, "relu1", x, CC_ACTIVATION_RELU);
    x = cc__nb_lrn(b, "norm1", x, &lrn);
    x = cc__nb_pool(b, "pool1", x, CC_POOL_MAX, 3, 2, 0);
    x = cc__nb_conv(b, "conv2", x, 256, 5, 1, 2, 2, true);
    x = cc__nb_act(b, "relu2", x, CC_ACTIVATION_RELU);
    x = cc__nb_lrn(b, "norm2", x, &lrn);
    x = cc__nb_pool(b, "pool2", x, CC_POOL_MAX, 3, 2, 0);
    x = cc__nb_conv(b, "conv3", x, 384, 3, 1, 1, 1, true);
    x = cc__nb_act(b, "relu3", x, CC_ACTIVATION_RELU);
    x = cc__nb_conv(b, "conv4", x, 384, 3, 1, 1, 2, true);
    x = cc__nb_act(b, "relu4", x, CC_ACTIVATION_RELU);
    x = cc__nb_conv(b, "conv5", x, 256, 3, 1, 1, 2, true);
    x = cc__nb_act(b, "relu5", x, CC_ACTIVATION_RELU);
    x = cc__nb_pool(b, "pool5", x, CC_POOL_MAX, 3, 2, 0);
    static const char *const names[] = {"fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"};
    return classifier(b, x, names);
}

/* Simonyan and Zisserman's configurations A, D and E: channels per 3x3
 * conv, 0 for a 2x2/2 max pool. */
static const int vgg11_config[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
static const int vgg16_config[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                                   512, 512, 512, 0, 512, 512, 512, 0, -1};
static const int vgg19_config[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0,
                                   512, 512, 512, 512, 0, 512, 512, 512, 512, 0, -1};

/* torchvision's module names: features.N counts every conv, ReLU and pool. */
static cc_node vgg(cc__nb *b, cc_node x, const int *config)
{
    int index = 0;
    for (const int *c = config; *c >= 0; c++) {
        if (*c == 0) {
            x = cc__nb_pool(b, cc__nb_name(b, "features.%d", index++), x, CC_POOL_MAX, 2, 2, 0);
            continue;
        }
        x = cc__nb_conv(b, cc__nb_name(b, "features.%d", index++), x, *c, 3, 1, 1, 1, true);
        x = cc__nb_act(b, cc__nb_name(b, "features.%d", index++), x, CC_ACTIVATION_RELU);
    }
    static const char *const names[] = {"classifier.0", "classifier.1", "classifier.2",
                                        "classifier.3", "classifier.4", "classifier.5",
                                        "classifier.6"};
    return classifier(b, x, names);
}

static cc_node vgg11(cc__nb *b, cc_node x) { return vgg(b, x, vgg11_config); }
static cc_node vgg16(cc__nb *b, cc_node x) { return vgg(b, x, vgg16_config); }
static cc_node vgg19(cc__nb *b, cc_node x) { return vgg(b, x, vgg19_config); }

/* Szegedy et al. 2014, table 1, inception (3a). */
static cc_node inception3a(cc__nb *b, cc_node x)
{
    const cc_net_inception_params p = {64, 96, 128, 16, 32, 32};
    return cc__nb_inception(b, "inception3a", x, &p);
}

/* He et al. 2015 as torchvision builds it (v1.5: stride on the 3x3). */
static cc_node resnet50(cc__nb *b, cc_node x)
{
    static const int blocks[4] = {3, 4, 6, 3};
    x = cc__nb_conv(b, "conv1", x, 64, 7, 2, 3, 1, false);
    x = cc__nb_bn(b, "bn1", x);
    x = cc__nb_act(b, "relu", x, CC_ACTIVATION_RELU);
    x = cc__nb_pool(b, "maxpool", x, CC_POOL_MAX, 3, 2, 1);
    for (int stage = 0; stage < 4; stage++) {
        const int mid = 64 << stage;
        for (int block = 0; block < blocks[stage]; block++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, block);
            const int stride = block == 0 && stage > 0 ? 2 : 1;
            x = cc__nb_bottleneck(b, prefix, x, mid, 4 * mid, stride);
        }
    }
    x = cc__nb_global_pool(b, "avgpool", x, CC_POOL_AVG);
    x = cc__nb_fc(b, "fc", x, 1000);
    return cc__nb_softmax(b, "prob", x);
}

/* ResNet-50's second conv2_x block alone: 256 -> 64 -> 64 -> 256, identity. */
static cc_node bottleneck(cc__nb *b, cc_node x) { return cc__nb_bottleneck(b, "block", x, 64, 256, 1); }

typedef struct {
    const char *name;
    int channels, height, width;
    cc_node (*build)(cc__nb *b, cc_node input);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"lenet5", 1, 32, 32, lenet5},
    {"lenet", 1, 28, 28, lenet},
    {"alexnet", 3, 227, 227, alexnet},
    {"vgg11", 3, 224, 224, vgg11},
    {"vgg16", 3, 224, 224, vgg16},
    {"vgg19", 3, 224, 224, vgg19},
    {"inception3a", 192, 28, 28, inception3a},
    {"resnet50", 3, 224, 224, resnet50},
    {"bottleneck", 256, 56, 56, bottleneck},
};

#define ZOO_SIZE (sizeof zoo / sizeof zoo[0])

const char *const *cc_net_zoo_names(void)
{
    static const char *const names[ZOO_SIZE + 1] = {
        "lenet5", "lenet", "alexnet", "vgg11", "vgg16", "vgg19", "inception3a", "resnet50",
        "bottleneck", NULL};
    return names;
}

cc_status cc_net_zoo_create_sized(const char *name, cc_layout layout, int batch, int height,
                                  int width, cc_net **net)
{
    if (net == NULL || name == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_zoo_create: %s is NULL",
                        net == NULL ? "net" : "name");
    *net = NULL;
    const zoo_entry *entry = NULL;
    for (size_t i = 0; i < ZOO_SIZE && entry == NULL; i++)
        if (strcmp(zoo[i].name, name) == 0)
            entry = &zoo[i];
    if (entry == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_zoo_create: no network named '%s'", name);
    if (height < 0 || width < 0)
        return cc__fail(CC_ERR_INVALID_ARG, "net_zoo_create: size %dx%d is negative (0 keeps "
                        "the default)", height, width);
    cc_net *made;
    CC__NET_TRY(cc_net_create(layout, batch, entry->channels, height > 0 ? height : entry->height,
                              width > 0 ? width : entry->width, &made));
    cc__nb b;
    cc__nb_start(&b, made);
    cc_node last = entry->build(&b, cc_net_input(made));
    cc_status status = cc__nb_finish(&b, last, &last);
    if (status != CC_OK) {
        cc_net_destroy(made);
        return status;
    }
    *net = made;
    return CC_OK;
}

cc_status cc_net_zoo_create(const char *name, cc_layout layout, int batch, cc_net **net)
{
    return cc_net_zoo_create_sized(name, layout, batch, 0, 0, net);
}
