/* The version string of the linked library. */
#include "core.h"

#define CC__STR(x) #x
#define CC__XSTR(x) CC__STR(x)

const char *cc_version(void)
{
    return CC__XSTR(CC_VERSION_MAJOR) "." CC__XSTR(CC_VERSION_MINOR) "." CC__XSTR(CC_VERSION_PATCH);
}
