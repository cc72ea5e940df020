/* header_use.inc compiled as C++ (11 and 17). */
#include "header_use.inc"
