/* Plan files: cc_plans_save and cc_plans_load. The whole file is built in
 * memory and written atomically (src/core/atomic_file.h); a load reads the
 * whole file (it is at most PLAN_FILE_MAX bytes), validates every byte into
 * scratch memory, and only then adds the plans: all or nothing.
 *
 * Format version 1, every integer a little-endian uint32 (also in
 * docs/plans-format.md):
 *
 *   offset 0   magic          8 bytes, "COLCPLAN"
 *   offset 8   format         1
 *   offset 12  library        major, minor, patch of the library that saved it
 *   offset 24  isa            the ISA in use when saved: 0 scalar, 1 avx2, 2 avx512
 *   offset 28  model_length   1..255
 *   offset 32  model          model_length bytes: the CPU model, no NUL
 *   then       count          0..CC_PLANS_MAX
 *   then count records of RECORD_FIELDS values:
 *     batch in_channels in_h in_w out_channels kernel_h kernel_w stride_h
 *     stride_w pad_top pad_bottom pad_left pad_right dilation_h dilation_w
 *     groups layout (each <= INT32_MAX; stride, dilation, groups >= 1),
 *     threads (the count a create saw), isa, path (a cc_algo), split (the
 *     threads runs use, 1..threads)
 *   then       crc32          CRC-32 (zlib's) of every byte before it
 *   nothing after the checksum.
 *
 * A file of another library version or CPU model is skipped whole after
 * its structure and checksum are checked (its records are not read: their
 * meaning may differ); a record of another ISA than the one in use is
 * skipped after it is checked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../core/atomic_file.h"
#include "../core/cpu_model.h"
#include "../core/crc32.h"
#include "plan.h"

static const unsigned char magic[8] = {'C', 'O', 'L', 'C', 'P', 'L', 'A', 'N'};
enum {
    FORMAT_VERSION = 1,
    MODEL_MAX = 255,
    HEAD_FIELDS = 6, /* format, major, minor, patch, isa, model_length */
    RECORD_FIELDS = CC__PLAN_KEY_FIELDS + 2,
    RECORD_BYTES = 4 * RECORD_FIELDS,
    PLAN_FILE_MAX = 8 + 4 * HEAD_FIELDS + MODEL_MAX + 4 + CC_PLANS_MAX * RECORD_BYTES + 4
};

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* ---- saving ---- */

/* The key's fields in file order, then path and split. */
static void record_fields(const cc__conv_plan *plan, uint32_t fields[RECORD_FIELDS])
{
    int32_t key[CC__PLAN_KEY_FIELDS];
    memcpy(key, &plan->key, sizeof key);
    for (int i = 0; i < CC__PLAN_KEY_FIELDS; i++)
        fields[i] = (uint32_t)key[i];
    fields[CC__PLAN_KEY_FIELDS] = (uint32_t)plan->algo;
    fields[CC__PLAN_KEY_FIELDS + 1] = (uint32_t)plan->threads;
}

/* The bytes of a file of count plans. */
static size_t plan_file_size(size_t count)
{
    return 8 + 4 * HEAD_FIELDS + strlen(cc__cpu_model()) + 4 + count * RECORD_BYTES + 4;
}

/* Writes the file's bytes into out (plan_file_size(count) of them). */
static void serialize(const cc__conv_plan *plans, size_t count, unsigned char *out)
{
    const char *model = cc__cpu_model();
    const uint32_t head[HEAD_FIELDS] = {FORMAT_VERSION, CC_VERSION_MAJOR, CC_VERSION_MINOR,
                                        CC_VERSION_PATCH, (uint32_t)cc__cpu_isa(),
                                        (uint32_t)strlen(model)};
    unsigned char *at = out;
    memcpy(at, magic, sizeof magic);
    at += sizeof magic;
    for (int i = 0; i < HEAD_FIELDS; i++, at += 4)
        put_u32(at, head[i]);
    memcpy(at, model, strlen(model));
    at += strlen(model);
    put_u32(at, (uint32_t)count);
    at += 4;
    for (size_t k = 0; k < count; k++) {
        uint32_t fields[RECORD_FIELDS];
        record_fields(&plans[k], fields);
        for (int i = 0; i < RECORD_FIELDS; i++, at += 4)
            put_u32(at, fields[i]);
    }
    put_u32(at, cc__crc32(0, out, (size_t)(at - out)));
}

static cc_status write_image(const char *path, const unsigned char *image, size_t size)
{
    cc__atomic_file f;
    const cc_status status = cc__atomic_file_open(&f, path, "save_plans");
    if (status != CC_OK)
        return status;
    const bool failed = fwrite(image, 1, size, f.file) != size;
    return cc__atomic_file_commit(&f, failed, "save_plans");
}

cc_status cc_plans_save(const char *path)
{
    if (path == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "save_plans: path is NULL");
    cc__conv_plan *plans;
    size_t count;
    cc_status status = cc__plans_snapshot(&plans, &count);
    if (status != CC_OK)
        return status;
    const size_t size = plan_file_size(count);
    unsigned char *image = cc__alloc(size, "save_plans: file image");
    if (image == NULL) {
        cc__free(plans);
        return CC_ERR_NOMEM;
    }
    serialize(plans, count, image);
    status = write_image(path, image, size);
    cc__free(image);
    cc__free(plans);
    return status;
}

/* ---- loading ---- */

typedef struct {
    const char *path;
    const unsigned char *data;
    size_t size, at;
} cursor;

typedef struct {
    uint32_t format, major, minor, patch, isa, model_length;
    const unsigned char *model;
    uint32_t count;
} header;

static cc_status truncated(const cursor *c, const char *what)
{
    return cc__fail(CC_ERR_FORMAT, "load_plans: %s: truncated at byte %zu (reading %s)", c->path,
                    c->size, what);
}

/* Whole-file reads: CC_ERR_IO, or CC_ERR_FORMAT for a file larger than any
 * plan file. *data is cc__free'd by the caller. */
static cc_status read_all(const char *path, unsigned char **data, size_t *size)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cc__fail(CC_ERR_IO, "load_plans: cannot open %s: %s", path, strerror(errno));
    *data = cc__alloc(PLAN_FILE_MAX + 1, "load_plans: file");
    cc_status status = *data == NULL ? CC_ERR_NOMEM : CC_OK;
    if (status == CC_OK) {
        *size = fread(*data, 1, PLAN_FILE_MAX + 1, f);
        if (ferror(f))
            status = cc__fail(CC_ERR_IO, "load_plans: cannot read %s", path);
        else if (*size > PLAN_FILE_MAX)
            status = cc__fail(CC_ERR_FORMAT, "load_plans: %s: larger than any plan file (%d "
                              "bytes)", path, PLAN_FILE_MAX);
    }
    fclose(f);
    return status;
}

static cc_status read_header(cursor *c, header *h)
{
    if (c->size < sizeof magic)
        return truncated(c, "the magic");
    if (memcmp(c->data, magic, sizeof magic) != 0)
        return cc__fail(CC_ERR_FORMAT, "load_plans: %s: not a colconv plan file (bad magic)",
                        c->path);
    uint32_t head[HEAD_FIELDS];
    c->at = sizeof magic;
    for (int i = 0; i < HEAD_FIELDS; i++, c->at += 4) {
        if (c->size < c->at + 4)
            return truncated(c, "the header");
        head[i] = get_u32(c->data + c->at);
    }
    *h = (header){head[0], head[1], head[2], head[3], head[4], head[5], NULL, 0};
    if (h->format != FORMAT_VERSION)
        return cc__fail(CC_ERR_FORMAT, "load_plans: %s: format version %u is not supported "
                        "(only %d)", c->path, h->format, FORMAT_VERSION);
    if (h->isa > CC__ISA_AVX512 || h->model_length < 1 || h->model_length > MODEL_MAX)
        return cc__fail(CC_ERR_FORMAT, "load_plans: %s: ISA %u (0..%d) or CPU model length %u "
                        "(1..%d) out of range", c->path, h->isa, CC__ISA_AVX512,
                        h->model_length, MODEL_MAX);
    if (c->size < c->at + h->model_length + 4)
        return truncated(c, "the CPU model and the count");
    h->model = c->data + c->at;
    c->at += h->model_length;
    h->count = get_u32(c->data + c->at);
    c->at += 4;
    if (h->count > CC_PLANS_MAX)
        return cc__fail(CC_ERR_FORMAT, "load_plans: %s: %u plans, more than the %d a cache "
                        "holds", c->path, h->count, CC_PLANS_MAX);
    return CC_OK;
}

/* The records and the checksum fill the rest of the file exactly. */
static cc_status check_size_and_crc(const cursor *c, const header *h)
{
    const size_t expected = c->at + (size_t)h->count * RECORD_BYTES + 4;
    if (c->size < expected)
        return truncated(c, "the plans");
    if (c->size > expected)
        return cc__fail(CC_ERR_FORMAT, "load_plans: %s: unexpected bytes after byte %zu",
                        c->path, expected);
    const uint32_t stored = get_u32(c->data + expected - 4);
    const uint32_t computed = cc__crc32(0, c->data, expected - 4);
    if (stored != computed)
        return cc__fail(CC_ERR_FORMAT, "load_plans: %s: bad checksum (stored %08x, computed "
                        "%08x)", c->path, stored, computed);
    return CC_OK;
}

static bool made_here(const header *h)
{
    const char *model = cc__cpu_model();
    return h->major == CC_VERSION_MAJOR && h->minor == CC_VERSION_MINOR &&
           h->patch == CC_VERSION_PATCH && h->model_length == strlen(model) &&
           memcmp(h->model, model, h->model_length) == 0;
}

/* Record k at the cursor into *plan, checked (cc__plan_check). */
static cc_status read_record(cursor *c, size_t k, cc__conv_plan *plan)
{
    uint32_t fields[RECORD_FIELDS];
    for (int i = 0; i < RECORD_FIELDS; i++, c->at += 4) {
        fields[i] = get_u32(c->data + c->at);
        if (fields[i] > INT32_MAX)
            return cc__fail(CC_ERR_FORMAT, "load_plans: %s: plan %zu: field %d is %u, above "
                            "INT32_MAX", c->path, k, i, fields[i]);
    }
    int32_t key[CC__PLAN_KEY_FIELDS];
    for (int i = 0; i < CC__PLAN_KEY_FIELDS; i++)
        key[i] = (int32_t)fields[i];
    memcpy(&plan->key, key, sizeof key);
    plan->algo = (cc_algo)fields[CC__PLAN_KEY_FIELDS];
    plan->threads = (int)fields[CC__PLAN_KEY_FIELDS + 1];
    if (cc__plan_check(plan) == CC_OK)
        return CC_OK;
    char detail[512];
    snprintf(detail, sizeof detail, "%s", cc_last_error());
    return cc__fail(CC_ERR_FORMAT, "load_plans: %s: plan %zu is impossible: %s", c->path, k,
                    detail);
}

static bool duplicate(const cc__conv_plan *plans, size_t count, const cc__plan_key *key)
{
    for (size_t i = 0; i < count; i++)
        if (memcmp(&plans[i].key, key, sizeof *key) == 0)
            return true;
    return false;
}

/* Every record checked; those of the ISA in use kept in plans[*kept]. */
static cc_status read_records(cursor *c, const header *h, cc__conv_plan *plans, size_t *kept)
{
    const cc__isa isa = cc__cpu_isa();
    *kept = 0;
    for (size_t k = 0; k < h->count; k++) {
        cc__conv_plan plan;
        const cc_status status = read_record(c, k, &plan);
        if (status != CC_OK)
            return status;
        if (duplicate(plans, *kept, &plan.key))
            return cc__fail(CC_ERR_FORMAT, "load_plans: %s: plan %zu repeats an earlier key",
                            c->path, k);
        if (plan.key.isa == (int32_t)isa)
            plans[(*kept)++] = plan;
    }
    return CC_OK;
}

static cc_status load_image(cursor *c, size_t *loaded)
{
    header h;
    cc_status status = read_header(c, &h);
    if (status == CC_OK)
        status = check_size_and_crc(c, &h);
    if (status != CC_OK || !made_here(&h) || h.count == 0)
        return status;
    cc__conv_plan *plans = cc__alloc_array(h.count, sizeof *plans, "load_plans: plans");
    if (plans == NULL)
        return CC_ERR_NOMEM;
    size_t kept = 0;
    status = read_records(c, &h, plans, &kept);
    if (status == CC_OK)
        status = cc__plans_add(plans, kept);
    if (status == CC_OK)
        *loaded = kept;
    cc__free(plans);
    return status;
}

cc_status cc_plans_load(const char *path, size_t *loaded)
{
    size_t added = 0;
    if (loaded != NULL)
        *loaded = 0;
    if (path == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "load_plans: path is NULL");
    unsigned char *data;
    size_t size = 0;
    cc_status status = read_all(path, &data, &size);
    if (status == CC_OK) {
        cursor c = {path, data, size, 0};
        status = load_image(&c, &added);
    }
    cc__free(data);
    if (status == CC_OK && loaded != NULL)
        *loaded = added;
    return status;
}
