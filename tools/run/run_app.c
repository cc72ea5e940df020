/* colconv-run: one inference of an ONNX model from the shell. The input is
 * read from a .npy or a raw .f32 file, in the layout asked for; the model is
 * imported (cc_net_load_onnx), built with fusion and buffer reuse, run once,
 * and its output written as .npy (or raw .f32). */
#include "run_app.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colconv.h"
#include "npy.h"

typedef struct {
    const char *model, *input, *output;
    int threads; /* 0: colconv's default */
    int batch;   /* 0: the input file's (.npy), else the model's */
    cc_layout layout;
    bool help, version;
} run_args;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: colconv-run MODEL.onnx --input X.npy|X.f32 --output Y.npy|Y.f32\n"
        "                   [--threads N] [--layout nchw|nhwc] [--batch N]\n"
        "Runs an ONNX model once with colconv and writes its output.\n"
        "  --input FILE     the input tensor: a float32 .npy (its shape must be the model's,\n"
        "                   in --layout) or raw little-endian float32 (.f32)\n"
        "  --output FILE    where the output goes: .npy (shape [N][C] for a flat output,\n"
        "                   else [N][C][H][W] or [N][H][W][C] by --layout) or raw .f32\n"
        "  --threads N      threads (default: all cores)\n"
        "  --layout L       nchw (default) or nhwc: the layout of the input and output files\n"
        "  --batch N        images (default: the .npy input's first dim, else the model's)\n"
        "  --help, --version\n"
        "Exit status: 0 done, 1 the network failed to build or run, 2 bad arguments or files.\n");
}

static int bad(FILE *err, const char *what, const char *value)
{
    fprintf(err, "colconv-run: %s%s%s%s\n", what, value ? " '" : "", value ? value : "",
            value ? "'" : "");
    usage(err);
    return 2;
}

static int parse_count(const char *text, int *out)
{
    char *end;
    const long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 1 || v > 4096)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_value(const char *opt, const char *value, run_args *a, FILE *err)
{
    if (strcmp(opt, "--input") == 0) {
        a->input = value;
    } else if (strcmp(opt, "--output") == 0) {
        a->output = value;
    } else if (strcmp(opt, "--threads") == 0) {
        if (parse_count(value, &a->threads) != 0)
            return bad(err, "bad --threads (an integer from 1 to 4096)", value);
    } else if (strcmp(opt, "--batch") == 0) {
        if (parse_count(value, &a->batch) != 0)
            return bad(err, "bad --batch (an integer from 1 to 4096)", value);
    } else if (strcmp(value, "nchw") == 0 || strcmp(value, "nhwc") == 0) {
        a->layout = value[1] == 'c' ? CC_NCHW : CC_NHWC;
    } else {
        return bad(err, "bad --layout (nchw or nhwc)", value);
    }
    return 0;
}

static int parse_args(int argc, char **argv, run_args *a, FILE *err)
{
    memset(a, 0, sizeof *a);
    a->layout = CC_NCHW;
    static const char *const with_value[] = {"--input", "--output", "--threads", "--batch",
                                             "--layout", NULL};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        bool known = false;
        for (const char *const *w = with_value; *w != NULL; w++)
            known = known || strcmp(opt, *w) == 0;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            a->help = true;
        } else if (strcmp(opt, "--version") == 0) {
            a->version = true;
        } else if (known) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0')
                return bad(err, "missing value after", opt);
            const int status = parse_value(opt, argv[++i], a, err);
            if (status != 0)
                return status;
        } else if (opt[0] == '-' && opt[1] != '\0') {
            return bad(err, "unknown option", opt);
        } else if (a->model != NULL) {
            return bad(err, "one model only; also given", opt);
        } else {
            a->model = opt;
        }
    }
    if (a->help || a->version)
        return 0;
    if (a->model == NULL || a->input == NULL || a->output == NULL)
        return bad(err, a->model == NULL ? "no model given" : a->input == NULL
                                                                ? "no --input given"
                                                                : "no --output given", NULL);
    return 0;
}

static bool ends_with(const char *text, const char *suffix)
{
    const size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* A raw float32 file: its size must be a whole number of floats. */
static int read_raw(const char *path, npy_array *out, char *error)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(error, NPY_ERROR_SIZE, "cannot open %s", path);
        return -1;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    bool ok = size > 0 && size % 4 == 0 && fseek(f, 0, SEEK_SET) == 0;
    if (ok) {
        out->count = (size_t)size / 4;
        out->rank = 1, out->shape[0] = (int64_t)out->count;
        out->data = malloc((size_t)size);
        ok = out->data != NULL && fread(out->data, 4, out->count, f) == out->count;
    }
    fclose(f);
    if (!ok) {
        snprintf(error, NPY_ERROR_SIZE, "%s: cannot read it as float32 (%ld bytes)", path, size);
        npy_free(out);
        return -1;
    }
    return 0;
}

/* The shape a tensor of the network has in the files: [N][C] when flat,
 * else [N][C][H][W] or [N][H][W][C]. Returns the rank. */
static int file_shape(const cc_net_layer_info *info, cc_layout layout, int64_t shape[4])
{
    shape[0] = info->n;
    if (info->flat) {
        shape[1] = info->c;
        return 2;
    }
    const int64_t chw[3] = {info->c, info->h, info->w}, hwc[3] = {info->h, info->w, info->c};
    memcpy(shape + 1, layout == CC_NCHW ? chw : hwc, sizeof chw);
    return 4;
}

static void format_shape(const int64_t *shape, int rank, char *text, size_t size)
{
    int used = snprintf(text, size, "(");
    for (int d = 0; d < rank && (size_t)used < size; d++)
        used += snprintf(text + used, size - (size_t)used, "%s%lld", d ? ", " : "",
                         (long long)shape[d]);
    if ((size_t)used < size)
        snprintf(text + used, size - (size_t)used, ")");
}

/* A .npy input of rank 4 must have the network's input shape; any input
 * must have its element count. */
static int check_input(const run_args *a, const cc_net *net, const npy_array *x, FILE *err)
{
    cc_net_layer_info info;
    int64_t want[4];
    char have_text[128], want_text[128];
    if (cc_net_get_layer_info(net, cc_net_input(net), &info) != CC_OK)
        return -1;
    const int rank = file_shape(&info, a->layout, want);
    format_shape(x->shape, x->rank, have_text, sizeof have_text);
    format_shape(want, rank, want_text, sizeof want_text);
    const bool same = x->rank == rank && memcmp(x->shape, want, sizeof want[0] * (size_t)rank) == 0;
    if (x->count != cc_net_input_count(net) || (x->rank == 4 && !same)) {
        fprintf(err, "colconv-run: %s holds %zu floats, shape %s; %s takes %s (%s)\n", a->input,
                x->count, have_text, a->model, want_text, a->layout == CC_NCHW ? "nchw" : "nhwc");
        return -1;
    }
    return 0;
}

static int write_output(const run_args *a, const cc_net *net, const float *y, FILE *err)
{
    cc_net_layer_info info;
    int64_t shape[4];
    char error[NPY_ERROR_SIZE];
    if (cc_net_get_layer_info(net, cc_net_node_count(net) - 1, &info) != CC_OK)
        return 1;
    const int rank = file_shape(&info, a->layout, shape);
    if (ends_with(a->output, ".f32")) {
        FILE *f = fopen(a->output, "wb");
        const size_t count = cc_net_output_count(net);
        const bool ok = f != NULL && fwrite(y, sizeof *y, count, f) == count;
        if ((f != NULL && fclose(f) != 0) || !ok) {
            fprintf(err, "colconv-run: cannot write %s\n", a->output);
            return 2;
        }
    } else if (npy_write(a->output, y, rank, shape, error) != 0) {
        fprintf(err, "colconv-run: %s\n", error);
        return 2;
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Loads, builds and runs; the exit status. */
static int infer(const run_args *a, const npy_array *x, FILE *out, FILE *err)
{
    cc_onnx_options options = {a->layout, a->batch > 0 ? a->batch : 0};
    if (options.batch == 0 && ends_with(a->input, ".npy") && x->rank >= 1 && x->shape[0] <= 4096)
        options.batch = (int)x->shape[0];
    cc_net *net = NULL;
    cc_status status = cc_net_load_onnx(a->model, &options, &net);
    if (status != CC_OK) {
        fprintf(err, "colconv-run: %s: %s\n", a->model, cc_last_error());
        return status == CC_ERR_NOMEM ? 1 : 2;
    }
    int code = check_input(a, net, x, err) == 0 ? 0 : 2;
    if (code == 0 && cc_net_build(net, NULL) != CC_OK) {
        fprintf(err, "colconv-run: %s: cannot build the network: %s\n", a->model, cc_last_error());
        code = 1;
    }
    float *y = code == 0 ? malloc(cc_net_output_count(net) * sizeof *y) : NULL;
    if (code == 0 && y == NULL) {
        fprintf(err, "colconv-run: out of memory for the output\n");
        code = 1;
    }
    const double start = now_ms();
    if (code == 0 && cc_net_run(net, x->data, y) != CC_OK) {
        fprintf(err, "colconv-run: %s: the run failed: %s\n", a->model, cc_last_error());
        code = 1;
    }
    const double ms = now_ms() - start;
    if (code == 0)
        code = write_output(a, net, y, err);
    if (code == 0) {
        cc_net_layer_info info;
        cc_net_get_layer_info(net, cc_net_node_count(net) - 1, &info);
        fprintf(out, "colconv-run: %s: output '%s' of %zu floats in %.3f ms on %d thread%s -> %s\n",
                a->model, info.name, cc_net_output_count(net), ms, cc_get_num_threads(),
                cc_get_num_threads() == 1 ? "" : "s", a->output);
    }
    free(y);
    cc_net_destroy(net);
    return code;
}

int run_main(int argc, char **argv, FILE *out, FILE *err)
{
    run_args a;
    const int parsed = parse_args(argc, argv, &a, err);
    if (parsed != 0)
        return parsed;
    if (a.help) {
        usage(out);
        return 0;
    }
    if (a.version) {
        fprintf(out, "colconv-run %s\n", cc_version());
        return 0;
    }
    npy_array x;
    char error[NPY_ERROR_SIZE];
    const bool npy = ends_with(a.input, ".npy");
    if (!npy && !ends_with(a.input, ".f32"))
        return bad(err, "--input must name a .npy or .f32 file, not", a.input);
    if (!ends_with(a.output, ".npy") && !ends_with(a.output, ".f32"))
        return bad(err, "--output must name a .npy or .f32 file, not", a.output);
    if ((npy ? npy_read(a.input, &x, error) : read_raw(a.input, &x, error)) != 0) {
        fprintf(err, "colconv-run: %s\n", error);
        return 2;
    }
    if (a.threads > 0)
        cc_set_num_threads(a.threads);
    const int code = infer(&a, &x, out, err);
    npy_free(&x);
    return code;
}
