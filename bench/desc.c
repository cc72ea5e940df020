/* Parsing and printing of benchdnn-style convolution descriptors. */
#include "desc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MB, G, IC, IH, IW, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, KEYS };
static const char *const key_names[KEYS] = {"mb", "g",  "ic", "ih", "iw", "oc", "oh", "ow",
                                            "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw"};

static int fail(char *error, size_t size, const char *message, const char *at)
{
    snprintf(error, size, "%s at '%.20s'", message, at);
    return -1;
}

/* The key spelled at *cursor (two letters, or the one-letter "g"); -1 if none. */
static int match_key(const char *cursor)
{
    for (int k = 0; k < KEYS; k++)
        if (strncmp(cursor, key_names[k], 2) == 0 || (k == G && cursor[0] == 'g'))
            return k;
    return -1;
}

static int parse_name(const char **cursor, bench_layer *layer, char *error, size_t size)
{
    const char *start = *cursor + 2; /* after n" */
    const char *end = strchr(start, '"');
    if (end == NULL)
        return fail(error, size, "unterminated name", *cursor);
    if ((size_t)(end - start) >= sizeof layer->name)
        return fail(error, size, "name too long", *cursor);
    memcpy(layer->name, start, (size_t)(end - start));
    layer->name[end - start] = '\0';
    *cursor = end + 1;
    return 0;
}

static int parse_value(const char **cursor, long *value, char *error, size_t size)
{
    if (!isdigit((unsigned char)**cursor))
        return fail(error, size, "missing value", *cursor);
    char *end;
    errno = 0;
    *value = strtol(*cursor, &end, 10);
    if (errno != 0 || *value > INT_MAX)
        return fail(error, size, "value out of range", *cursor);
    *cursor = end;
    return 0;
}

static void apply_defaults(long *v, const int *given)
{
    const long fallback[KEYS] = {1, 1, 0, 0, -1, 0, -1, -1, 0, -1, 1, -1, 0, -1, 0, -1};
    for (int k = 0; k < KEYS; k++)
        if (!given[k])
            v[k] = fallback[k];
    const int copies[][2] = {{IW, IH}, {KW, KH}, {SW, SH}, {PW, PH}, {DW, DH}};
    for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
        if (!given[copies[i][0]])
            v[copies[i][0]] = v[copies[i][1]];
}

/* Sizes, strides and groups are at least 1; pads, dilations at least 0. */
static int check_values(const long *v, char *error, size_t size)
{
    for (int k = 0; k < KEYS; k++) {
        const long lowest = k == PH || k == PW || k == DH || k == DW ? 0 : 1;
        if (k != OH && k != OW && v[k] < lowest) {
            snprintf(error, size, "%s must be at least %ld, not %ld", key_names[k], lowest, v[k]);
            return -1;
        }
        if ((k == DH || k == DW) && v[k] > INT_MAX - 1) { /* stored + 1 in an int */
            snprintf(error, size, "%s must be at most %d, not %ld", key_names[k], INT_MAX - 1, v[k]);
            return -1;
        }
    }
    if (v[IC] % v[G] != 0 || v[OC] % v[G] != 0) {
        snprintf(error, size, "ic%ld and oc%ld must be multiples of g%ld", v[IC], v[OC], v[G]);
        return -1;
    }
    return 0;
}

static int check_output(const long *v, const int *given, int oh, int ow, char *error, size_t size)
{
    const int keys[2] = {OH, OW}, computed[2] = {oh, ow};
    for (int i = 0; i < 2; i++)
        if (given[keys[i]] && v[keys[i]] != computed[i]) {
            snprintf(error, size, "inconsistent %s%ld: the output %s is %d", key_names[keys[i]],
                     v[keys[i]], i == 0 ? "height" : "width", computed[i]);
            return -1;
        }
    return 0;
}

static int to_params(const long *v, const int *given, bench_layer *layer, char *error, size_t size)
{
    const int required[] = {IC, IH, OC, KH};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!given[required[i]]) {
            snprintf(error, size, "missing key %s", key_names[required[i]]);
            return -1;
        }
    if (check_values(v, error, size) != 0)
        return -1;
    cc_conv2d_params *p = &layer->params;
    memset(p, 0, sizeof *p);
    p->batch = (int)v[MB], p->groups = (int)v[G];
    p->in_channels = (int)v[IC], p->in_h = (int)v[IH], p->in_w = (int)v[IW];
    p->out_channels = (int)v[OC], p->kernel_h = (int)v[KH], p->kernel_w = (int)v[KW];
    p->stride_h = (int)v[SH], p->stride_w = (int)v[SW];
    p->pad_top = p->pad_bottom = (int)v[PH];
    p->pad_left = p->pad_right = (int)v[PW];
    p->dilation_h = (int)v[DH] + 1, p->dilation_w = (int)v[DW] + 1;
    int oh, ow;
    if (cc_conv2d_output_size(p, &oh, &ow) != CC_OK) {
        snprintf(error, size, "no output: %s", cc_last_error());
        return -1;
    }
    return check_output(v, given, oh, ow, error, size);
}

int bench_parse_desc(const char *text, bench_layer *layer, char *error, size_t size)
{
    long values[KEYS] = {0};
    int given[KEYS] = {0};
    memset(layer, 0, sizeof *layer);
    const char *cursor = text;
    while (*cursor != '\0') {
        if (*cursor == '_') { /* oneDNN's verbose output groups keys with '_' */
            cursor++;
            continue;
        }
        if (cursor[0] == 'n' && cursor[1] == '"') {
            if (parse_name(&cursor, layer, error, size) != 0)
                return -1;
            continue;
        }
        const int key = match_key(cursor);
        if (key < 0)
            return fail(error, size, "unknown key", cursor);
        if (given[key])
            return fail(error, size, "repeated key", cursor);
        cursor += strlen(key_names[key]);
        if (parse_value(&cursor, &values[key], error, size) != 0)
            return -1;
        given[key] = 1;
    }
    apply_defaults(values, given);
    return to_params(values, given, layer, error, size);
}

void bench_format_desc(const bench_layer *layer, char *text, size_t size)
{
    const cc_conv2d_params *p = &layer->params;
    int oh = 0, ow = 0;
    cc_conv2d_output_size(p, &oh, &ow);
    const int groups = p->groups > 0 ? p->groups : 1;
    int used = snprintf(text, size, "mb%d", p->batch);
    /* Each append only while the text fits: snprintf's return counts what
     * did not, and size - used must not wrap. */
    if (groups > 1 && (size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, "g%d", groups);
    if ((size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, "ic%dih%diw%doc%doh%dow%dkh%dkw%d",
                         p->in_channels, p->in_h, p->in_w, p->out_channels, oh, ow, p->kernel_h,
                         p->kernel_w);
    const int sh = p->stride_h > 0 ? p->stride_h : 1, sw = p->stride_w > 0 ? p->stride_w : 1;
    if ((sh != 1 || sw != 1) && (size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, "sh%dsw%d", sh, sw);
    if ((p->pad_top || p->pad_left) && (size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, "ph%dpw%d", p->pad_top, p->pad_left);
    const int dh = p->dilation_h > 1 ? p->dilation_h - 1 : 0;
    const int dw = p->dilation_w > 1 ? p->dilation_w - 1 : 0;
    if ((dh || dw) && (size_t)used < size)
        used += snprintf(text + used, size - (size_t)used, "dh%ddw%d", dh, dw);
    if (layer->name[0] != '\0' && (size_t)used < size)
        snprintf(text + used, size - (size_t)used, "n\"%s\"", layer->name);
}
