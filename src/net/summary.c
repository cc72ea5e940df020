/* The Keras-style summary: a table of layers, then the totals. */
#include <stdarg.h>
#include <string.h>

#include "net_internal.h"

/* Text written as snprintf does: at most size bytes, always the full length. */
typedef struct {
    char *text;
    size_t size;
    size_t length;
} sink;

static void emit(sink *s, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void emit(sink *s, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *at = s->length < s->size ? s->text + s->length : NULL;
    const size_t room = s->length < s->size ? s->size - s->length : 0;
    const int written = vsnprintf(at, room, format, args);
    va_end(args);
    if (written > 0)
        s->length += (size_t)written;
}

/* 61706 -> "61,706". */
static const char *grouped(uint64_t value, char text[32])
{
    char digits[24];
    const int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)value);
    int out = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            text[out++] = ',';
        text[out++] = digits[i];
    }
    text[out] = '\0';
    return text;
}

/* "(1, 6, 28, 28)" in the layout's order, "(1, 120)" when flat. */
static const char *shape_text(const cc_net *net, const cc__node *x, char text[64])
{
    const cc__dims *d = &x->out;
    if (x->flat)
        snprintf(text, 64, "(%d, %d)", d->n, d->c);
    else if (net->layout == CC_NCHW)
        snprintf(text, 64, "(%d, %d, %d, %d)", d->n, d->c, d->h, d->w);
    else
        snprintf(text, 64, "(%d, %d, %d, %d)", d->n, d->h, d->w, d->c);
    return text;
}

static int name_width(const cc_net *net)
{
    size_t width = strlen("Layer (type)");
    for (int i = 0; i < net->node_count; i++) {
        const cc__node *x = &net->nodes[i];
        const size_t w = strlen(x->name) + strlen(cc__node_type(x)) + 3;
        if (w > width)
            width = w;
    }
    return (int)width + 2;
}

static void rule(sink *s, char c, int width)
{
    for (int i = 0; i < width; i++)
        emit(s, "%c", c);
    emit(s, "\n");
}

/* After the build: "fused" on a layer computed in another's sweep, "+add"
 * on a conv that computes an add. */
static const char *fusion_mark(const cc_net *net, int i)
{
    if (!net->built)
        return "";
    if (net->plan.exec[i] != i)
        return "  fused";
    return net->plan.residual[i] >= 0 ? "  +add" : "";
}

static void layer_rows(sink *s, const cc_net *net, int width)
{
    for (int i = 0; i < net->node_count; i++) {
        const cc__node *x = &net->nodes[i];
        char label[CC__NET_NAME_MAX + 64], shape[64], params[32], flops[32];
        snprintf(label, sizeof label, "%s (%s)", x->name, cc__node_type(x));
        emit(s, "%-*s%-22s%14s%20s%s\n", width, label, shape_text(net, x, shape),
             grouped(x->params, params), grouped(x->flops, flops), fusion_mark(net, i));
    }
}

static void totals(sink *s, const cc_net_stats *st)
{
    char a[32], b[32];
    emit(s, "Total params: %s\n", grouped(st->params, a));
    emit(s, "Total FLOPs: %s (%.4g GFLOPs)\n", grouped(st->flops, a), (double)st->flops * 1e-9);
    emit(s, "Weight bytes: %s\n", grouped(st->weight_bytes, a));
    emit(s, "Activation bytes: %s without buffer reuse, %s with (planned)\n",
         grouped(st->activation_bytes, a), grouped(st->planned_activation_bytes, b));
    if (st->built)
        emit(s, "Conv workspace bytes: %s held, shared by the convs (%s if one per conv)\n",
             grouped(st->workspace_bytes, a), grouped(st->per_conv_workspace_bytes, b));
    else
        emit(s, "Conv workspace bytes: known after cc_net_build\n");
}

cc_status cc_net_summary(const cc_net *net, char *text, size_t size, size_t *length)
{
    if (net == NULL || (text == NULL && size > 0))
        return cc__fail(CC_ERR_INVALID_ARG, "net_summary: %s is NULL", net == NULL ? "net" : "text");
    cc_net_stats stats;
    CC__NET_TRY(cc_net_get_stats(net, &stats));
    sink s = {text, size, 0};
    if (size > 0)
        text[0] = '\0';
    const int width = name_width(net);
    const int total = width + 22 + 14 + 20 + 7;
    emit(&s, "Network: %s, %d layers\n", net->layout == CC_NCHW ? "NCHW" : "NHWC",
         net->node_count - 1);
    rule(&s, '_', total);
    emit(&s, "%-*s%-22s%14s%20s\n", width, "Layer (type)", "Output Shape", "Param #", "FLOPs");
    rule(&s, '=', total);
    layer_rows(&s, net, width);
    rule(&s, '=', total);
    totals(&s, &stats);
    rule(&s, '_', total);
    if (length != NULL)
        *length = s.length;
    return CC_OK;
}

cc_status cc_net_print_summary(const cc_net *net, FILE *file)
{
    if (file == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "net_print_summary: file is NULL");
    size_t length;
    CC__NET_TRY(cc_net_summary(net, NULL, 0, &length));
    char *text = cc__alloc(length + 1, "net_print_summary: text");
    if (text == NULL)
        return CC_ERR_NOMEM;
    cc_status status = cc_net_summary(net, text, length + 1, NULL);
    if (status == CC_OK && fputs(text, file) == EOF)
        status = cc__fail(CC_ERR_IO, "net_print_summary: cannot write the summary");
    cc__free(text);
    return status;
}
