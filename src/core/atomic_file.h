/* Files written atomically: into a temporary file beside the target, which
 * replaces the target (rename) only once every byte is written and the file
 * closed. A reader sees the old file or the whole new one, never a part; a
 * failed write leaves the old file (or none) and no temporary behind. Not
 * synced to disk: atomic for other processes, not across a power loss. */
#ifndef COLCONV_ATOMIC_FILE_H
#define COLCONV_ATOMIC_FILE_H

#include <stdbool.h>
#include <stdio.h>

#include "core.h"

enum { CC__ATOMIC_PATH_MAX = 4096 };

typedef struct {
    FILE *file;                          /* write here */
    const char *path;                    /* the target */
    char temp[CC__ATOMIC_PATH_MAX + 64]; /* path.tmp.<pid>.<n> */
} cc__atomic_file;

/* Creates the temporary file (exclusively, mode 0666 less the umask).
 * CC_ERR_IO naming `what` and path when it cannot be created (a missing or
 * read-only folder, a path of over CC__ATOMIC_PATH_MAX bytes). */
cc_status cc__atomic_file_open(cc__atomic_file *f, const char *path, const char *what);

/* Closes the file and renames it over the target. With `failed` (a write
 * the caller saw fail), or when closing or renaming fails, removes the
 * temporary file instead and returns CC_ERR_IO. */
cc_status cc__atomic_file_commit(cc__atomic_file *f, bool failed, const char *what);

#endif
