/* Trainer state files: everything that training resumes from.
 *
 * Format version 1, integers little-endian, values little-endian IEEE-754
 * float32:
 *
 *   offset 0   magic          8 bytes, "CCTRAINS"
 *   offset 8   version        uint32, 1
 *   offset 12  optimizer      uint32, the cc_optimizer_kind
 *   offset 16  tensors        uint32, CRC-32 of the network's tensor names
 *                             (each with its NUL) and element counts (uint64
 *                             each): the file belongs to this network
 *   offset 20  weights        uint64, floats of the weight array
 *   offset 28  state          uint64, floats of the optimiser state
 *   offset 36  optimizer step int64, the optimiser's step counter
 *   offset 44  steps          uint64, the trainer's steps (dropout masks)
 *   offset 52  seed           uint64, the dropout seed
 *   offset 60  epoch          uint32
 *   offset 64  the weight array, then the optimiser state (floats)
 *   then       crc32          uint32, CRC-32 of every byte before it
 *   nothing after it.
 *
 * Saving writes a temporary file renamed over the target when complete
 * (src/core/atomic_file.h). Loading reads and checks the whole file before
 * it changes anything. */
#include <stdio.h>
#include <string.h>

#include "../core/atomic_file.h"
#include "../core/crc32.h"
#include "trainer_internal.h"

static const unsigned char magic[8] = {'C', 'C', 'T', 'R', 'A', 'I', 'N', 'S'};
enum { FORMAT_VERSION = 1, HEADER_BYTES = 64, FLOAT_CHUNK = 1024 };

typedef struct {
    uint32_t kind, tensors;
    uint64_t weights, state;
    int64_t optimizer_step;
    uint64_t steps, seed;
    uint32_t epoch;
} header;

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t get_u64(const unsigned char *b)
{
    return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

static uint32_t tensors_crc(const cc_net *net)
{
    uint32_t crc = 0;
    for (int k = 0; k < net->tensor_count; k++) {
        unsigned char count[8];
        put_u64(count, net->tensors[k].count);
        crc = cc__crc32(crc, net->tensors[k].name, strlen(net->tensors[k].name) + 1);
        crc = cc__crc32(crc, count, sizeof count);
    }
    return crc;
}

static header header_of(const cc_trainer *t)
{
    size_t state_floats = 0;
    int64_t *step = NULL;
    cc__optimizer_state(t->opt, NULL, &state_floats, &step);
    return (header){(uint32_t)cc__optimizer_params(t->opt)->kind, tensors_crc(t->net),
                    t->net->weight_floats, state_floats, *step, t->steps, t->seed,
                    (uint32_t)t->epoch};
}

static void encode_header(const header *h, unsigned char b[HEADER_BYTES])
{
    memcpy(b, magic, sizeof magic);
    put_u32(b + 8, FORMAT_VERSION);
    put_u32(b + 12, h->kind);
    put_u32(b + 16, h->tensors);
    put_u64(b + 20, h->weights);
    put_u64(b + 28, h->state);
    put_u64(b + 36, (uint64_t)h->optimizer_step);
    put_u64(b + 44, h->steps);
    put_u64(b + 52, h->seed);
    put_u32(b + 60, h->epoch);
}

/* Writes bytes and runs the CRC over them; false on a write error. */
static bool write_bytes(FILE *file, const void *data, size_t size, uint32_t *crc)
{
    *crc = cc__crc32(*crc, data, size);
    return fwrite(data, 1, size, file) == size;
}

static bool write_floats(FILE *file, const float *data, size_t count, uint32_t *crc)
{
    unsigned char chunk[4 * FLOAT_CHUNK];
    for (size_t begin = 0; begin < count; begin += FLOAT_CHUNK) {
        const size_t n = count - begin < FLOAT_CHUNK ? count - begin : FLOAT_CHUNK;
        for (size_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &data[begin + i], 4);
            put_u32(chunk + 4 * i, bits);
        }
        if (!write_bytes(file, chunk, 4 * n, crc))
            return false;
    }
    return true;
}

cc_status cc_trainer_save(const cc_trainer *t, const char *path)
{
    if (t == NULL || path == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_save: %s is NULL",
                        t == NULL ? "trainer" : "path");
    const header h = header_of(t);
    float *state = NULL;
    cc__optimizer_state(t->opt, &state, NULL, NULL);
    unsigned char head[HEADER_BYTES], tail[4];
    encode_header(&h, head);
    cc__atomic_file f;
    CC__NET_TRY(cc__atomic_file_open(&f, path, "trainer_save"));
    uint32_t crc = 0;
    bool ok = write_bytes(f.file, head, sizeof head, &crc) &&
              write_floats(f.file, t->net->weights, h.weights, &crc) &&
              write_floats(f.file, state, h.state, &crc);
    put_u32(tail, crc);
    ok = ok && fwrite(tail, 1, sizeof tail, f.file) == sizeof tail;
    return cc__atomic_file_commit(&f, !ok, "trainer_save");
}

/* ---- loading ---- */

/* The whole file, in memory (the allocator's), *size its length. */
static cc_status read_all(const char *path, unsigned char **bytes, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return cc__fail(CC_ERR_IO, "trainer_load: %s: cannot open it", path);
    long length = -1;
    if (fseek(file, 0, SEEK_END) == 0)
        length = ftell(file);
    if (length < 0 || fseek(file, 0, SEEK_SET) != 0) {
        fclose(file);
        return cc__fail(CC_ERR_IO, "trainer_load: %s: cannot measure it", path);
    }
    *size = (size_t)length;
    *bytes = cc__alloc(*size, "trainer_load: file contents");
    if (*bytes == NULL) {
        fclose(file);
        return CC_ERR_NOMEM;
    }
    const bool ok = fread(*bytes, 1, *size, file) == *size;
    fclose(file);
    if (ok)
        return CC_OK;
    cc__free(*bytes);
    return cc__fail(CC_ERR_IO, "trainer_load: %s: read error", path);
}

static cc_status check_header(const cc_trainer *t, const unsigned char *b, size_t size,
                              const char *path)
{
    if (size < HEADER_BYTES + 4 || memcmp(b, magic, sizeof magic) != 0)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: not a colconv trainer state file "
                        "(%s)", path, size < HEADER_BYTES + 4 ? "too short" : "bad magic");
    if (get_u32(b + 8) != FORMAT_VERSION)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: version %u is not supported (only %d)",
                        path, get_u32(b + 8), FORMAT_VERSION);
    const header want = header_of(t);
    if (get_u32(b + 12) != want.kind)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: saved for optimiser kind %u, the "
                        "trainer's is %u", path, get_u32(b + 12), want.kind);
    if (get_u32(b + 16) != want.tensors || get_u64(b + 20) != want.weights ||
        get_u64(b + 28) != want.state)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: saved from another network or "
                        "optimiser configuration (tensors or sizes differ)", path);
    const uint64_t expected = HEADER_BYTES + 4 * (want.weights + want.state) + 4;
    if ((uint64_t)size != expected)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: %zu bytes, expected %llu (%s)", path,
                        size, (unsigned long long)expected,
                        (uint64_t)size < expected ? "truncated" : "bytes after the end");
    const uint32_t computed = cc__crc32(0, b, size - 4);
    if (get_u32(b + size - 4) != computed)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: checksum mismatch (stored %08x, "
                        "computed %08x)", path, get_u32(b + size - 4), computed);
    if (get_u32(b + 60) > (uint32_t)INT32_MAX)
        return cc__fail(CC_ERR_FORMAT, "trainer_load: %s: epoch %u out of range", path,
                        get_u32(b + 60));
    return CC_OK;
}

static void read_floats(const unsigned char *b, size_t count, float *out)
{
    for (size_t i = 0; i < count; i++) {
        const uint32_t bits = get_u32(b + 4 * i);
        memcpy(&out[i], &bits, 4);
    }
}

static void commit(cc_trainer *t, const unsigned char *b)
{
    float *state = NULL;
    size_t state_floats = 0;
    int64_t *step = NULL;
    cc__optimizer_state(t->opt, &state, &state_floats, &step);
    *step = (int64_t)get_u64(b + 36);
    t->steps = get_u64(b + 44);
    t->seed = get_u64(b + 52);
    t->epoch = (int)get_u32(b + 60);
    read_floats(b + HEADER_BYTES, t->net->weight_floats, t->net->weights);
    read_floats(b + HEADER_BYTES + 4 * t->net->weight_floats, state_floats, state);
}

cc_status cc_trainer_load(cc_trainer *t, const char *path)
{
    if (t == NULL || path == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "trainer_load: %s is NULL",
                        t == NULL ? "trainer" : "path");
    unsigned char *bytes = NULL;
    size_t size = 0;
    CC__NET_TRY(read_all(path, &bytes, &size));
    const cc_status status = check_header(t, bytes, size, path);
    if (status == CC_OK)
        commit(t, bytes);
    cc__free(bytes);
    return status;
}
