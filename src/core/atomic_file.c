/* Atomic writes: a temporary file named after the target, the process and a
 * counter (O_EXCL, so two writers never share one), then rename(2), which
 * POSIX makes atomic within a file system: the temporary file lives in the
 * target's folder for that reason. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static atomic_uint temp_counter;

enum { CREATE_ATTEMPTS = 16 };

cc_status cc__atomic_file_open(cc__atomic_file *f, const char *path, const char *what)
{
    f->file = NULL;
    f->path = path;
    if (strlen(path) > CC__ATOMIC_PATH_MAX)
        return cc__fail(CC_ERR_IO, "%s: the path is longer than %d bytes", what,
                        CC__ATOMIC_PATH_MAX);
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < CREATE_ATTEMPTS; attempt++) {
        snprintf(f->temp, sizeof f->temp, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&temp_counter, 1u));
        fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return cc__fail(CC_ERR_IO, "%s: cannot create %s: %s", what, f->temp, strerror(errno));
    f->file = fdopen(fd, "wb");
    if (f->file == NULL) {
        const int error = errno;
        close(fd);
        unlink(f->temp);
        return cc__fail(CC_ERR_IO, "%s: cannot write %s: %s", what, path, strerror(error));
    }
    return CC_OK;
}

cc_status cc__atomic_file_commit(cc__atomic_file *f, bool failed, const char *what)
{
    failed = ferror(f->file) != 0 || failed;
    failed = fclose(f->file) != 0 || failed;
    f->file = NULL;
    if (!failed && rename(f->temp, f->path) == 0)
        return CC_OK;
    const int error = errno;
    unlink(f->temp);
    return cc__fail(CC_ERR_IO, "%s: cannot write %s%s%s", what, f->path, failed ? "" : ": ",
                    failed ? "" : strerror(error));
}
