/* header_use.inc compiled as C11. */
#include "header_use.inc"
