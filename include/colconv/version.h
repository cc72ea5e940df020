/* colconv: version of the library, at compile time and at run time. */
#ifndef COLCONV_VERSION_H
#define COLCONV_VERSION_H

#include "colconv/export.h"

#define CC_VERSION_MAJOR 0
#define CC_VERSION_MINOR 1
#define CC_VERSION_PATCH 0
#define CC_VERSION_HEX \
    ((CC_VERSION_MAJOR << 16) | (CC_VERSION_MINOR << 8) | CC_VERSION_PATCH)

CC_EXTERN_C_BEGIN

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH". */
CC_API const char *cc_version(void);

CC_EXTERN_C_END

#endif
