/* IDX (LeCun's MNIST format): a big-endian header, magic 0x0000 TT DD
 * (TT = 0x08 for unsigned bytes, DD the number of dimensions), one 32-bit
 * size per dimension, then the bytes in row-major order. */
#include "idx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_DIM 65536

static uint32_t big_endian_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads exactly n bytes; false if the file ends first or gzip fails. */
static bool read_exact(gzFile gz, unsigned char *buf, size_t n)
{
    while (n > 0) {
        const unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        const int got = gzread(gz, buf, chunk);
        if (got <= 0)
            return false;
        buf += got;
        n -= (size_t)got;
    }
    return true;
}

/* Why a read stopped: gzip's error, or the end of the file. */
static const char *stop_reason(gzFile gz)
{
    int code;
    const char *message = gzerror(gz, &code);
    return code != Z_OK && code != Z_BUF_ERROR ? message : "the file ends early (truncated)";
}

static bool read_header(gzFile gz, const char *path, int dims, uint32_t size[3], char *err,
                        size_t err_size)
{
    unsigned char header[16];
    if (!read_exact(gz, header, 4)) {
        snprintf(err, err_size, "%s: no IDX header: %s", path, stop_reason(gz));
        return false;
    }
    if (header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != dims) {
        snprintf(err, err_size,
                 "%s: bad magic %02x%02x%02x%02x (an IDX file of unsigned bytes in %d "
                 "dimension%s has 000008%02x)",
                 path, header[0], header[1], header[2], header[3], dims, dims == 1 ? "" : "s",
                 dims);
        return false;
    }
    if (!read_exact(gz, header + 4, 4 * (size_t)dims)) {
        snprintf(err, err_size, "%s: no IDX header: %s", path, stop_reason(gz));
        return false;
    }
    for (int d = 0; d < dims; d++) {
        size[d] = big_endian_u32(header + 4 + 4 * d);
        const uint32_t limit = d == 0 ? INT32_MAX : IDX_MAX_DIM;
        if (size[d] == 0 || size[d] > limit) {
            snprintf(err, err_size, "%s: dimension %d is %u (must be 1 to %u)", path, d,
                     (unsigned)size[d], (unsigned)limit);
            return false;
        }
    }
    return true;
}

static bool read_body(gzFile gz, const char *path, idx_file *out, char *err, size_t err_size)
{
    const size_t bytes = (size_t)out->count * (size_t)out->rows * (size_t)out->cols;
    out->data = malloc(bytes > 0 ? bytes : 1);
    if (out->data == NULL) {
        snprintf(err, err_size, "%s: out of memory for %zu bytes", path, bytes);
        return false;
    }
    if (!read_exact(gz, out->data, bytes)) {
        snprintf(err, err_size, "%s: the header declares %zu bytes of data: %s", path, bytes,
                 stop_reason(gz));
        return false;
    }
    unsigned char extra;
    if (gzread(gz, &extra, 1) != 0) {
        snprintf(err, err_size, "%s: bytes after the %zu the header declares", path, bytes);
        return false;
    }
    return true;
}

bool idx_read(const char *path, int dims, idx_file *out, char *err, size_t err_size)
{
    *out = (idx_file){0, 1, 1, NULL};
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL) {
        snprintf(err, err_size, "%s: cannot open", path);
        return false;
    }
    uint32_t size[3] = {1, 1, 1};
    bool ok = read_header(gz, path, dims, size, err, err_size);
    if (ok) {
        out->count = (int)size[0];
        out->rows = dims == 3 ? (int)size[1] : 1;
        out->cols = dims == 3 ? (int)size[2] : 1;
        ok = read_body(gz, path, out, err, err_size);
    }
    gzclose(gz);
    if (!ok)
        idx_free(out);
    return ok;
}

void idx_free(idx_file *f)
{
    free(f->data);
    f->data = NULL;
}

/* DIR/NAME.gz if it exists, else DIR/NAME. */
static void find_file(const char *dir, const char *name, char *path, size_t size)
{
    struct stat st;
    snprintf(path, size, "%s/%s.gz", dir, name);
    if (stat(path, &st) != 0)
        snprintf(path, size, "%s/%s", dir, name);
}

static bool check_pair(const idx_file *images, const idx_file *labels, const char *set,
                       int classes, char *err, size_t err_size)
{
    if (images->count != labels->count) {
        snprintf(err, err_size, "%s set: %d images but %d labels", set, images->count,
                 labels->count);
        return false;
    }
    for (int i = 0; i < labels->count; i++)
        if (labels->data[i] >= classes) {
            snprintf(err, err_size, "%s set: label %d of image %d is out of range (the network "
                     "has %d classes: 0 to %d)", set, labels->data[i], i, classes, classes - 1);
            return false;
        }
    return true;
}

static bool check_dataset(const idx_dataset *ds, int classes, int max_rows, int max_cols,
                          char *err, size_t err_size)
{
    if (!check_pair(&ds->train_images, &ds->train_labels, "training", classes, err, err_size) ||
        !check_pair(&ds->test_images, &ds->test_labels, "test", classes, err, err_size))
        return false;
    const idx_file *tr = &ds->train_images, *te = &ds->test_images;
    if (tr->rows != te->rows || tr->cols != te->cols) {
        snprintf(err, err_size, "training images are %dx%d but test images %dx%d", tr->rows,
                 tr->cols, te->rows, te->cols);
        return false;
    }
    if (tr->rows > max_rows || tr->cols > max_cols) {
        snprintf(err, err_size, "images are %dx%d, larger than the network's %dx%d input",
                 tr->rows, tr->cols, max_rows, max_cols);
        return false;
    }
    return true;
}

bool idx_dataset_load(const char *dir, int classes, int max_rows, int max_cols, idx_dataset *ds,
                      char *err, size_t err_size)
{
    static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    memset(ds, 0, sizeof *ds);
    idx_file *files[4] = {&ds->train_images, &ds->train_labels, &ds->test_images,
                          &ds->test_labels};
    bool ok = true;
    for (int i = 0; i < 4 && ok; i++) {
        char path[4096];
        find_file(dir, names[i], path, sizeof path);
        ok = idx_read(path, i % 2 == 0 ? 3 : 1, files[i], err, err_size);
    }
    ok = ok && check_dataset(ds, classes, max_rows, max_cols, err, err_size);
    if (!ok)
        idx_dataset_free(ds);
    return ok;
}

void idx_dataset_free(idx_dataset *ds)
{
    idx_free(&ds->train_images);
    idx_free(&ds->train_labels);
    idx_free(&ds->test_images);
    idx_free(&ds->test_labels);
}
