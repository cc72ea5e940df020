/* colconv: symbol export and C++ linkage macros shared by the public headers. */
#ifndef COLCONV_EXPORT_H
#define COLCONV_EXPORT_H

/* The library is built with hidden visibility; only CC_API names are exported
 * from libcolconv.so, so none of colconv's internal names (all prefixed
 * cc__ in libcolconv.a) can clash with the host's. Nothing to define to use
 * either the static or the shared library. */
#if defined(__GNUC__) || defined(__clang__)
#define CC_API __attribute__((visibility("default")))
#else
#define CC_API
#endif

#ifdef __cplusplus
#define CC_EXTERN_C_BEGIN extern "C" {
#define CC_EXTERN_C_END }
#else
#define CC_EXTERN_C_BEGIN
#define CC_EXTERN_C_END
#endif

#endif
