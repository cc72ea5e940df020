/* Tensors stored outside the model (PyTorch's files over 2 GB): a data file
 * named by a relative path that must stay inside the model's directory,
 * read at an offset after the range has been checked against its size. */
/* realpath is X/Open, beyond the POSIX level the build asks for. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"

/* False for an absolute path, an empty one, or one with a ".." component. */
static bool location_is_inside(const char *location)
{
    if (location[0] == '\0' || location[0] == '/')
        return false;
    for (const char *p = location; *p != '\0';) {
        const char *end = strchr(p, '/');
        const size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += len + (end != NULL);
    }
    return true;
}

/* The resolved file must lie under the resolved model directory, so that a
 * symbolic link inside the directory cannot lead out of it either. */
static cc_status check_resolved(const char *model_dir, const char *path, const char *tensor)
{
    char dir_real[PATH_MAX], file_real[PATH_MAX];
    if (realpath(model_dir, dir_real) == NULL || realpath(path, file_real) == NULL)
        return cc__fail(CC_ERR_IO, "onnx: tensor '%s': cannot open its data file '%s': %s",
                        tensor, path, strerror(errno));
    const size_t n = strlen(dir_real);
    const bool root = n == 1; /* "/" */
    if (strncmp(file_real, dir_real, n) != 0 || (!root && file_real[n] != '/'))
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: tensor '%s': its data file '%s' lies outside the model's "
                        "directory",
                        tensor, path);
    return CC_OK;
}

static cc_status read_range(int fd, const char *path, uint64_t offset, size_t bytes,
                            const char *tensor, uint8_t *out)
{
    size_t done = 0;
    while (done < bytes) {
        const ssize_t got = pread(fd, out + done, bytes - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return cc__fail(CC_ERR_IO, "onnx: tensor '%s': cannot read '%s': %s", tensor, path,
                            got < 0 ? strerror(errno) : "file shrank while read");
        done += (size_t)got;
    }
    return CC_OK;
}

cc_status cc__onnx_external_read(const char *model_dir, const char *location, uint64_t offset,
                                 size_t bytes, const char *tensor, uint8_t **out)
{
    *out = NULL;
    if (!location_is_inside(location))
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: tensor '%s': external data location '%s' must be a relative "
                        "path inside the model's directory (no '..')",
                        tensor, location);
    char path[PATH_MAX];
    const int n = snprintf(path, sizeof path, "%s/%s", model_dir, location);
    if (n < 0 || (size_t)n >= sizeof path)
        return cc__fail(CC_ERR_FORMAT, "onnx: tensor '%s': external data path too long", tensor);
    CC__TRY_ONNX(check_resolved(model_dir, path, tensor));
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cc__fail(CC_ERR_IO, "onnx: tensor '%s': cannot open its data file '%s': %s",
                        tensor, path, strerror(errno));
    struct stat st;
    cc_status status = CC_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        status = cc__fail(CC_ERR_IO, "onnx: tensor '%s': '%s' is not a regular file", tensor,
                          path);
    else if (offset > (uint64_t)st.st_size || bytes > (uint64_t)st.st_size - offset)
        status = cc__fail(CC_ERR_FORMAT,
                          "onnx: tensor '%s': %zu bytes at offset %llu lie beyond the end of "
                          "'%s' (%lld bytes)",
                          tensor, bytes, (unsigned long long)offset, path,
                          (long long)st.st_size);
    else if ((*out = cc__alloc(bytes, "onnx: external tensor")) == NULL)
        status = CC_ERR_NOMEM;
    else
        status = read_range(fd, path, offset, bytes, tensor, *out);
    close(fd);
    if (status != CC_OK) {
        cc__free(*out);
        *out = NULL;
    }
    return status;
}
