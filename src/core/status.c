/* Status names and the thread-local message behind cc_last_error(). */
#include <stdarg.h>
#include <stdio.h>

#include "core.h"

#define CC__STATUS_NAMES(X)                      \
    X(CC_OK, "ok")                               \
    X(CC_ERR_INVALID_ARG, "invalid argument")    \
    X(CC_ERR_UNSUPPORTED, "unsupported")         \
    X(CC_ERR_NOMEM, "out of memory")             \
    X(CC_ERR_IO, "input/output error")           \
    X(CC_ERR_FORMAT, "bad file format")

static _Thread_local char last_message[512];

const char *cc_status_str(cc_status s)
{
    switch (s) {
#define CC__STATUS_CASE(code, text) \
    case code:                      \
        return text;
        CC__STATUS_NAMES(CC__STATUS_CASE)
#undef CC__STATUS_CASE
    }
    return "unknown status";
}

const char *cc_last_error(void) { return last_message; }

cc_status cc__fail(cc_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(last_message, sizeof last_message, format, args);
    va_end(args);
    return status;
}
