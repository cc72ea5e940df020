/* Weights files: load (validate fully into scratch, then commit) and save.
 *
 * Format version 1, every integer a little-endian uint32, every value a
 * little-endian IEEE-754 float32 (also in docs/weights-format.md):
 *
 *   offset 0   magic        8 bytes, "CCWEIGHT"
 *   offset 8   version      1
 *   offset 12  count        number of tensor records that follow
 *   then count records, each:
 *     name_length  1..255
 *     name         name_length bytes (UTF-8, no NUL), e.g. "conv1.weight"
 *     rank         1..4
 *     dims         rank values, each > 0 (PyTorch's shape, outermost first)
 *     data         product(dims) float32 values, row-major
 *     crc32        CRC-32 (IEEE 802.3 / zlib) of the record's bytes from
 *                  name_length through the last data byte
 *   nothing after the last record.
 *
 * A file matches a network when it holds exactly the network's tensors
 * (any order, each once) with the same shapes. Saving writes a temporary
 * file beside the target and renames it over the target when complete
 * (src/core/atomic_file.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../core/atomic_file.h"
#include "../core/crc32.h"
#include "net_internal.h"

static const unsigned char magic[8] = {'C', 'C', 'W', 'E', 'I', 'G', 'H', 'T'};
enum { FORMAT_VERSION = 1, NAME_MAX_BYTES = 255, RANK_MAX = 4 };

static uint32_t get_u32(const unsigned char b[4])
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_u32(unsigned char b[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static bool host_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reverses the bytes of each float (little-endian file, big-endian host). */
static void swap_floats(float *data, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        unsigned char b[4], r[4];
        memcpy(b, &data[i], 4);
        for (int k = 0; k < 4; k++)
            r[k] = b[3 - k];
        memcpy(&data[i], r, 4);
    }
}

/* ---- loading ---- */

typedef struct {
    FILE *file;
    const char *path;
    unsigned long long offset; /* bytes read so far */
    uint32_t crc;              /* of the current record */
} reader;

static cc_status read_bytes(reader *r, void *data, size_t size, const char *what)
{
    const size_t got = fread(data, 1, size, r->file);
    r->crc = cc__crc32(r->crc, data, got);
    r->offset += got;
    if (got == size)
        return CC_OK;
    if (ferror(r->file))
        return cc__fail(CC_ERR_IO, "load_weights: %s: read error at byte %llu", r->path,
                        r->offset);
    return cc__fail(CC_ERR_FORMAT, "load_weights: %s: truncated at byte %llu (reading %s)",
                    r->path, r->offset, what);
}

static cc_status read_u32(reader *r, uint32_t *value, const char *what)
{
    unsigned char b[4];
    CC__NET_TRY(read_bytes(r, b, 4, what));
    *value = get_u32(b);
    return CC_OK;
}

static cc_status read_header(reader *r, const cc_net *net)
{
    unsigned char head[8];
    uint32_t version, count;
    CC__NET_TRY(read_bytes(r, head, sizeof head, "the magic"));
    if (memcmp(head, magic, sizeof magic) != 0)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: not a colconv weights file (bad magic)",
                        r->path);
    CC__NET_TRY(read_u32(r, &version, "the version"));
    if (version != FORMAT_VERSION)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: version %u is not supported (only %d)",
                        r->path, version, FORMAT_VERSION);
    CC__NET_TRY(read_u32(r, &count, "the tensor count"));
    if (count != (uint32_t)net->tensor_count)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: holds %u tensors, the network has %d",
                        r->path, count, net->tensor_count);
    return CC_OK;
}

/* Reads a record's name and finds its tensor, new to this load. */
static cc_status read_name(reader *r, const cc_net *net, bool *seen, int *index)
{
    uint32_t length;
    char name[NAME_MAX_BYTES + 1];
    CC__NET_TRY(read_u32(r, &length, "a tensor name length"));
    if (length == 0 || length > NAME_MAX_BYTES)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: tensor name length %u at byte %llu "
                        "is outside 1..%d", r->path, length, r->offset - 4, NAME_MAX_BYTES);
    CC__NET_TRY(read_bytes(r, name, length, "a tensor name"));
    name[length] = '\0';
    *index = strlen(name) == length ? cc__net_find_tensor(net, name) : -1;
    if (*index < 0)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: the network has no tensor '%s'",
                        r->path, name);
    if (seen[*index])
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: tensor '%s' appears twice", r->path,
                        name);
    seen[*index] = true;
    return CC_OK;
}

static cc_status read_shape(reader *r, const cc__tensor *t)
{
    uint32_t rank, dims[RANK_MAX];
    CC__NET_TRY(read_u32(r, &rank, "a tensor rank"));
    if (rank < 1 || rank > RANK_MAX)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: tensor '%s' has rank %u (1..%d)",
                        r->path, t->name, rank, RANK_MAX);
    for (uint32_t d = 0; d < rank; d++)
        CC__NET_TRY(read_u32(r, &dims[d], "a tensor shape"));
    bool same = rank == (uint32_t)t->rank;
    for (uint32_t d = 0; same && d < rank; d++)
        same = dims[d] == (uint32_t)t->shape[d];
    if (!same) {
        char got[64] = "", want[64] = "";
        for (uint32_t d = 0; d < rank; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u", d ? "x" : "", dims[d]);
        for (int d = 0; d < t->rank; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "x" : "",
                     t->shape[d]);
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: tensor '%s' is %s in the file, %s in "
                        "the network", r->path, t->name, got, want);
    }
    return CC_OK;
}

static cc_status read_record(reader *r, const cc_net *net, bool *seen, float *scratch)
{
    int index = -1;
    r->crc = 0;
    CC__NET_TRY(read_name(r, net, seen, &index));
    const cc__tensor *t = &net->tensors[index];
    CC__NET_TRY(read_shape(r, t));
    float *data = scratch + t->offset;
    CC__NET_TRY(read_bytes(r, data, t->count * sizeof(float), t->name));
    const uint32_t computed = r->crc;
    uint32_t stored;
    CC__NET_TRY(read_u32(r, &stored, "a checksum"));
    if (stored != computed)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: tensor '%s' fails its checksum "
                        "(stored %08x, computed %08x)", r->path, t->name, stored, computed);
    if (!host_little_endian())
        swap_floats(data, t->count);
    return CC_OK;
}

static cc_status read_file(reader *r, const cc_net *net, bool *seen, float *scratch)
{
    CC__NET_TRY(read_header(r, net));
    for (int i = 0; i < net->tensor_count; i++)
        CC__NET_TRY(read_record(r, net, seen, scratch));
    if (fgetc(r->file) != EOF)
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: unexpected bytes after byte %llu",
                        r->path, r->offset);
    return CC_OK;
}

/* Packing rejects values no network can use (a NaN or negative variance):
 * for a file, that is a format error. */
static cc_status commit_loaded(cc_net *net, float *scratch, const char *path)
{
    cc_status status = cc__net_commit_weights(net, scratch);
    if (status == CC_ERR_INVALID_ARG) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", cc_last_error());
        return cc__fail(CC_ERR_FORMAT, "load_weights: %s: unusable values: %s", path, detail);
    }
    return status;
}

cc_status cc_net_load_weights(cc_net *net, const char *path)
{
    if (net == NULL || path == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "load_weights: %s is NULL",
                        net == NULL ? "net" : "path");
    reader r = {.path = path};
    r.file = fopen(path, "rb");
    if (r.file == NULL)
        return cc__fail(CC_ERR_IO, "load_weights: cannot open %s: %s", path, strerror(errno));
    float *scratch = cc__alloc_array(net->weight_floats, sizeof(float), "load_weights: weights");
    bool *seen = cc__alloc_array((size_t)net->tensor_count, sizeof(bool), "load_weights: tensors");
    cc_status status = scratch != NULL && seen != NULL ? CC_OK : CC_ERR_NOMEM;
    if (status == CC_OK) {
        memset(seen, 0, (size_t)net->tensor_count * sizeof(bool));
        status = read_file(&r, net, seen, scratch);
    }
    fclose(r.file);
    cc__free(seen);
    if (status != CC_OK) {
        cc__free(scratch);
        return status;
    }
    return commit_loaded(net, scratch, path);
}

/* ---- saving ---- */

typedef struct {
    FILE *file;
    uint32_t crc;
    bool failed;
} writer;

static void write_bytes(writer *w, const void *data, size_t size)
{
    w->crc = cc__crc32(w->crc, data, size);
    if (!w->failed && fwrite(data, 1, size, w->file) != size)
        w->failed = true;
}

static void write_u32(writer *w, uint32_t value)
{
    unsigned char b[4];
    put_u32(b, value);
    write_bytes(w, b, 4);
}

/* Writes floats little-endian through a small staging block. */
static void write_floats(writer *w, const float *data, size_t count)
{
    float block[1024];
    for (size_t done = 0; done < count;) {
        const size_t n = count - done < 1024 ? count - done : 1024;
        memcpy(block, data + done, n * sizeof(float));
        if (!host_little_endian())
            swap_floats(block, n);
        write_bytes(w, block, n * sizeof(float));
        done += n;
    }
}

static void write_record(writer *w, const cc_net *net, const cc__tensor *t)
{
    w->crc = 0;
    write_u32(w, (uint32_t)strlen(t->name));
    write_bytes(w, t->name, strlen(t->name));
    write_u32(w, (uint32_t)t->rank);
    for (int d = 0; d < t->rank; d++)
        write_u32(w, (uint32_t)t->shape[d]);
    write_floats(w, net->weights + t->offset, t->count);
    write_u32(w, w->crc);
}

cc_status cc_net_save_weights(const cc_net *net, const char *path)
{
    if (net == NULL || path == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "save_weights: %s is NULL",
                        net == NULL ? "net" : "path");
    if (net->weights == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "save_weights: the network has no weights yet");
    cc__atomic_file f;
    const cc_status status = cc__atomic_file_open(&f, path, "save_weights");
    if (status != CC_OK)
        return status;
    writer w = {.file = f.file};
    write_bytes(&w, magic, sizeof magic);
    write_u32(&w, FORMAT_VERSION);
    write_u32(&w, (uint32_t)net->tensor_count);
    for (int i = 0; i < net->tensor_count; i++)
        write_record(&w, net, &net->tensors[i]);
    return cc__atomic_file_commit(&f, w.failed, "save_weights");
}
