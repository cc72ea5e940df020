/* colconv: version of the library, at compile time and at run time.
 *
 * The macros give the version of this header; cc_version() that of the
 * library actually linked, so a program can detect a mismatch. While the
 * major version is 0, a new minor version may change the API: the CMake
 * package accepts find_package(colconv 0.1) for 0.1.x only. Compare versions
 * at compile time with CC_VERSION_HEX, e.g. `#if CC_VERSION_HEX >= 0x000100`. */
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
