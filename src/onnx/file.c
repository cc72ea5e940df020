/* Reading an ONNX model file: a regular file of at most 2 GB read whole,
 * its nesting depth bounded (wire.c), then unpacked by protobuf-c with every
 * allocation through colconv's allocator. protobuf-c allocates in
 * proportion to the bytes it is given. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"

/* protobuf-c's allocator over cc__alloc; allocator_data, when not NULL,
 * points to a flag raised when an allocation failed (to tell CC_ERR_NOMEM
 * from a malformed file: protobuf-c returns NULL for both). */
static void *pb_alloc(void *data, size_t size)
{
    void *p = cc__alloc(size, "onnx: protobuf message");
    if (p == NULL && data != NULL)
        *(bool *)data = true;
    return p;
}

static void pb_free(void *data, void *pointer)
{
    (void)data;
    cc__free(pointer);
}

/* Reads the whole regular file at path into *bytes (cc__alloc'd). */
static cc_status read_whole(const char *path, uint8_t **bytes, size_t *size)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cc__fail(CC_ERR_IO, "onnx: cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    cc_status status = CC_OK;
    uint8_t *buffer = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        status = cc__fail(CC_ERR_IO, "onnx: '%s' is not a regular file", path);
    } else if ((uint64_t)st.st_size > CC__ONNX_MAX_FILE_BYTES) {
        status = cc__fail(CC_ERR_FORMAT, "onnx: '%s' has %lld bytes, over protobuf's 2 GB limit",
                          path, (long long)st.st_size);
    } else if ((buffer = cc__alloc((size_t)st.st_size, "onnx: model file")) == NULL) {
        status = CC_ERR_NOMEM;
    } else {
        size_t done = 0;
        while (done < (size_t)st.st_size) {
            const ssize_t got = read(fd, buffer + done, (size_t)st.st_size - done);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                status = cc__fail(CC_ERR_IO, "onnx: cannot read '%s': %s", path,
                                  got < 0 ? strerror(errno) : "file shrank while read");
                break;
            }
            done += (size_t)got;
        }
    }
    close(fd);
    if (status != CC_OK) {
        cc__free(buffer);
        return status;
    }
    *bytes = buffer;
    *size = (size_t)st.st_size;
    return CC_OK;
}

cc_status cc__onnx_model_read(const char *path, cc__onnx_model **model)
{
    *model = NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    CC__TRY_ONNX(read_whole(path, &bytes, &size));
    cc_status status = cc__onnx_wire_check(&cc__onnx__model_proto__descriptor, bytes, size,
                                           CC__ONNX_MAX_DEPTH);
    if (status == CC_OK) {
        bool out_of_memory = false;
        ProtobufCAllocator allocator = {pb_alloc, pb_free, &out_of_memory};
        *model = cc__onnx__model_proto__unpack(&allocator, size, bytes);
        if (*model == NULL)
            status = out_of_memory ? cc__fail(CC_ERR_NOMEM, "onnx: out of memory unpacking '%s'",
                                              path)
                                   : cc__fail(CC_ERR_FORMAT,
                                              "onnx: '%s' is not a valid ONNX model (protobuf "
                                              "could not be parsed)",
                                              path);
    }
    cc__free(bytes);
    if (status == CC_OK && (*model)->graph == NULL) {
        cc__onnx_model_free(*model);
        *model = NULL;
        status = cc__fail(CC_ERR_FORMAT, "onnx: '%s' has no graph", path);
    }
    return status;
}

void cc__onnx_model_free(cc__onnx_model *model)
{
    static ProtobufCAllocator allocator = {pb_alloc, pb_free, NULL};
    if (model != NULL)
        cc__onnx__model_proto__free_unpacked(model, &allocator);
}

int64_t cc__onnx_opset(const cc__onnx_model *model)
{
    for (size_t i = 0; i < model->n_opset_import; i++) {
        const CcOnnx__OperatorSetIdProto *set = model->opset_import[i];
        const char *domain = cc__onnx_str(set->domain);
        if ((domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0) && set->has_version)
            return set->version;
    }
    return -1;
}
