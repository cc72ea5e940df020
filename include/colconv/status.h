/* colconv: status codes, error messages and the allocator hook.
 *
 * Every fallible call returns a cc_status. On failure the calling thread's
 * cc_last_error() names the offending argument; the message stays until this
 * thread's next failure, as errno does. The library never prints, exits or
 * aborts. */
#ifndef COLCONV_STATUS_H
#define COLCONV_STATUS_H

#include <stddef.h>

#include "colconv/export.h"

CC_EXTERN_C_BEGIN

typedef enum {
    CC_OK = 0,
    CC_ERR_INVALID_ARG, /* a NULL pointer, a bad size, field or enum value */
    CC_ERR_UNSUPPORTED, /* valid, but not by the path asked for */
    CC_ERR_NOMEM,       /* an allocation failed; nothing leaked */
    CC_ERR_IO,          /* a file could not be opened, read or written */
    CC_ERR_FORMAT       /* a file's contents are truncated, corrupt or mismatched */
} cc_status;

/* A short English name of s; never NULL, also for values outside the enum. */
CC_API const char *cc_status_str(cc_status s);

/* Detail of this thread's last failure; "" if this thread has had none. */
CC_API const char *cc_last_error(void);

/* An allocator colconv routes every allocation through. alloc returns memory
 * aligned to `alignment` (a power of two, at least 64) or NULL; free accepts
 * NULL. */
typedef struct cc_allocator {
    void *context;
    void *(*alloc)(void *context, size_t alignment, size_t size);
    void (*free)(void *context, void *pointer);
} cc_allocator;

/* Installs allocator (copied) for every later allocation, or restores the
 * default (aligned malloc) for NULL. Each block remembers the allocator that
 * made it and is returned to that one, so objects created before the switch
 * stay valid. Returns CC_ERR_INVALID_ARG if a function pointer is NULL. Not
 * thread-safe: call it while no other thread is inside colconv. */
CC_API cc_status cc_set_allocator(const cc_allocator *allocator);

CC_EXTERN_C_END

#endif
