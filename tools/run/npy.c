/* .npy reading and writing (npy.h). The header is parsed as the small
 * subset of a Python dict literal that numpy writes, every step bounded by
 * the header's end. */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER 65536

static int fail(char *error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error, NPY_ERROR_SIZE, format, args);
    va_end(args);
    return -1;
}

typedef struct {
    const char *p, *end;
} cursor;

static void skip_spaces(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n'))
        c->p++;
}

static bool take(cursor *c, char ch)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string ('...' or "...") into text (size bytes). */
static bool quoted(cursor *c, char *text, size_t size)
{
    skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    const char quote = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != quote)
        c->p++;
    if (c->p >= c->end || (size_t)(c->p - start) >= size)
        return false;
    memcpy(text, start, (size_t)(c->p - start));
    text[c->p - start] = '\0';
    c->p++;
    return true;
}

static bool word(cursor *c, const char *w)
{
    skip_spaces(c);
    const size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A non-negative dimension, at most 2^40 (larger is no tensor of ours). */
static bool dim(cursor *c, int64_t *value)
{
    skip_spaces(c);
    int64_t v = 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > ((int64_t)1 << 40))
            return false;
    }
    *value = v;
    return c->p > start;
}

/* (d0, d1, ...) with an optional trailing comma; () is a scalar. */
static int shape(cursor *c, npy_array *out, char *error)
{
    if (!take(c, '('))
        return fail(error, "shape is not a tuple");
    out->rank = 0;
    while (!take(c, ')')) {
        if (out->rank == NPY_MAX_RANK)
            return fail(error, "shape has more than %d dims", NPY_MAX_RANK);
        if (!dim(c, &out->shape[out->rank]))
            return fail(error, "shape has a bad dim (a non-negative integer)");
        out->rank++;
        if (!take(c, ',') && !(skip_spaces(c), c->p < c->end && *c->p == ')'))
            return fail(error, "shape: expected ',' or ')'");
    }
    return 0;
}

typedef struct {
    bool descr, order, shape;
} seen_keys;

static int entry(cursor *c, npy_array *out, seen_keys *seen, char *error)
{
    char key[32], value[32];
    if (!quoted(c, key, sizeof key) || !take(c, ':'))
        return fail(error, "header is not a dict of 'key': value");
    if (strcmp(key, "descr") == 0 && !seen->descr) {
        seen->descr = true;
        if (!quoted(c, value, sizeof value))
            return fail(error, "descr is not a string");
        if (strcmp(value, "<f4") != 0)
            return fail(error, "dtype '%s' is not float32 little-endian ('<f4')", value);
    } else if (strcmp(key, "fortran_order") == 0 && !seen->order) {
        seen->order = true;
        if (word(c, "True"))
            return fail(error, "Fortran order is not supported (save a C-ordered array)");
        if (!word(c, "False"))
            return fail(error, "fortran_order is not True or False");
    } else if (strcmp(key, "shape") == 0 && !seen->shape) {
        seen->shape = true;
        return shape(c, out, error);
    } else {
        return fail(error, "unknown or repeated key '%s' in the header", key);
    }
    return 0;
}

static int header(const char *text, size_t size, npy_array *out, char *error)
{
    cursor c = {text, text + size};
    seen_keys seen = {0};
    if (!take(&c, '{'))
        return fail(error, "header is not a dict");
    while (!take(&c, '}')) {
        if (entry(&c, out, &seen, error) != 0)
            return -1;
        if (!take(&c, ',') && !(skip_spaces(&c), c.p < c.end && *c.p == '}'))
            return fail(error, "header: expected ',' or '}'");
    }
    if (!seen.descr || !seen.order || !seen.shape)
        return fail(error, "header lacks %s", !seen.descr ? "descr" : !seen.order ? "fortran_order"
                                                                                : "shape");
    return 0;
}

static int element_count(npy_array *a, char *error)
{
    size_t count = 1;
    for (int d = 0; d < a->rank; d++) {
        if (a->shape[d] != 0 && count > SIZE_MAX / sizeof(float) / (size_t)a->shape[d])
            return fail(error, "shape's element count overflows");
        count *= (size_t)a->shape[d];
    }
    a->count = count;
    return 0;
}

static uint32_t load_le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int npy_parse(const unsigned char *bytes, size_t size, npy_array *out, char *error)
{
    memset(out, 0, sizeof *out);
    if (size < NPY_MAGIC_LEN + 4 || memcmp(bytes, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return fail(error, "not a .npy file (no \\x93NUMPY magic)");
    const int major = bytes[6];
    if (major < 1 || major > 3)
        return fail(error, ".npy version %d.%d is not supported (1.0 to 3.0)", major, bytes[7]);
    const size_t prefix = major == 1 ? 10 : 12;
    if (size < prefix)
        return fail(error, "truncated header");
    const size_t len = major == 1 ? (size_t)bytes[8] | (size_t)bytes[9] << 8 : load_le32(bytes + 8);
    if (len > NPY_MAX_HEADER || len > size - prefix)
        return fail(error, "header length %zu is past the end of the file or over 64 kB", len);
    if (header((const char *)bytes + prefix, len, out, error) != 0 || element_count(out, error) != 0)
        return -1;
    const size_t data = size - prefix - len;
    if (data != out->count * sizeof(float))
        return fail(error, "data is %zu bytes; the shape needs %zu", data,
                    out->count * sizeof(float));
    out->data = malloc(out->count > 0 ? out->count * sizeof(float) : 1);
    if (out->data == NULL)
        return fail(error, "out of memory");
    for (size_t i = 0; i < out->count; i++) {
        const uint32_t bits = load_le32(bytes + prefix + len + 4 * i);
        memcpy(&out->data[i], &bits, sizeof bits);
    }
    return 0;
}

/* The whole file, malloc'd. */
static unsigned char *slurp(const char *path, size_t *size, char *error)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail(error, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *bytes = NULL;
    long end = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        end = ftell(f);
    if (end >= 0 && fseek(f, 0, SEEK_SET) == 0)
        bytes = malloc((size_t)end + 1);
    if (bytes != NULL && fread(bytes, 1, (size_t)end, f) == (size_t)end) {
        *size = (size_t)end;
    } else {
        fail(error, "cannot read %s", path);
        free(bytes);
        bytes = NULL;
    }
    fclose(f);
    return bytes;
}

int npy_read(const char *path, npy_array *out, char *error)
{
    memset(out, 0, sizeof *out);
    size_t size = 0;
    unsigned char *bytes = slurp(path, &size, error);
    if (bytes == NULL)
        return -1;
    char reason[NPY_ERROR_SIZE];
    const int status = npy_parse(bytes, size, out, reason);
    free(bytes);
    if (status != 0)
        return fail(error, "%s: %s", path, reason);
    return 0;
}

static void store_le32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

int npy_write(const char *path, const float *data, int rank, const int64_t *shape, char *error)
{
    if (rank < 0 || rank > NPY_MAX_RANK)
        return fail(error, "rank %d is not 0 to %d", rank, NPY_MAX_RANK);
    char dict[256];
    int used = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        used += snprintf(dict + used, sizeof dict - (size_t)used, "%lld%s", (long long)shape[d],
                         rank == 1 ? "," : d + 1 < rank ? ", " : "");
        count *= (size_t)shape[d];
    }
    used += snprintf(dict + used, sizeof dict - (size_t)used, "), }");
    /* Magic, version, length, dict, spaces, '\n': a multiple of 64 bytes. */
    const size_t len = ((10 + (size_t)used + 1 + 63) / 64) * 64 - 10;
    unsigned char head[10 + 256];
    memcpy(head, NPY_MAGIC, NPY_MAGIC_LEN);
    head[6] = 1, head[7] = 0, head[8] = (unsigned char)len, head[9] = (unsigned char)(len >> 8);
    memset(head + 10, ' ', len);
    memcpy(head + 10, dict, (size_t)used);
    head[10 + len - 1] = '\n';
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return fail(error, "cannot create %s: %s", path, strerror(errno));
    bool ok = fwrite(head, 1, 10 + len, f) == 10 + len;
    for (size_t i = 0; ok && i < count; i++) {
        uint32_t bits;
        unsigned char b[4];
        memcpy(&bits, &data[i], sizeof bits);
        store_le32(b, bits);
        ok = fwrite(b, 1, 4, f) == 4;
    }
    if (fclose(f) != 0 || !ok)
        return fail(error, "cannot write %s", path);
    return 0;
}

void npy_free(npy_array *array)
{
    if (array != NULL) {
        free(array->data);
        array->data = NULL;
    }
}
