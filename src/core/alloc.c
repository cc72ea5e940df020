/* Aligned, overflow-checked allocation through a replaceable allocator.
 *
 * Every block starts with a header of CC__ALIGNMENT bytes holding a copy of
 * the allocator that made it, so a block is always freed by its own
 * allocator even after cc_set_allocator switched to another one. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core.h"

typedef struct {
    cc_allocator allocator;
} block_header;

_Static_assert(sizeof(block_header) <= CC__ALIGNMENT, "header fits its slot");

/* Blocks of HUGE_FROM bytes or more (packed weights, a network's buffers)
 * are made of whole 2 MiB pages, which Linux backs with huge pages when
 * asked (transparent_hugepage "madvise", Debian's default): a page fault
 * per 4 KiB cost 6 us each on a virtual machine (a fifth of the creation
 * of a 512-channel Winograd layer), and the weights a run streams then
 * take 1 TLB entry per 2 MiB. Rounding is less than a third of a block. */
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_FROM ((size_t)4 << 20)

static void *default_alloc(void *context, size_t alignment, size_t size)
{
    (void)context;
    if (size >= HUGE_FROM && size <= SIZE_MAX - HUGE_PAGE) {
        const size_t rounded = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        void *block = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
        if (block != NULL)
            (void)madvise(block, rounded, MADV_HUGEPAGE); /* a hint: 4 KiB pages otherwise */
#endif
        return block;
    }
    size_t rounded = (size + alignment - 1) / alignment * alignment;
    return aligned_alloc(alignment, rounded);
}

static void default_free(void *context, void *pointer)
{
    (void)context;
    free(pointer);
}

static cc_allocator current = {NULL, default_alloc, default_free};

cc_status cc_set_allocator(const cc_allocator *allocator)
{
    if (allocator == NULL) {
        current = (cc_allocator){NULL, default_alloc, default_free};
        return CC_OK;
    }
    if (allocator->alloc == NULL || allocator->free == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "allocator: alloc and free must not be NULL");
    current = *allocator;
    return CC_OK;
}

void *cc__alloc(size_t bytes, const char *what)
{
    size_t total;
    if (!cc__add_size(bytes, CC__ALIGNMENT, &total)) {
        cc__fail(CC_ERR_NOMEM, "%s: %zu bytes is too large to allocate", what, bytes);
        return NULL;
    }
    unsigned char *block = current.alloc(current.context, CC__ALIGNMENT, total);
    if (block == NULL) {
        cc__fail(CC_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, bytes);
        return NULL;
    }
    ((block_header *)block)->allocator = current;
    return block + CC__ALIGNMENT;
}

void *cc__alloc_array(size_t count, size_t size, const char *what)
{
    size_t bytes;
    if (!cc__mul_size(count, size, &bytes)) {
        cc__fail(CC_ERR_NOMEM, "%s: %zu x %zu bytes overflows size_t", what, count, size);
        return NULL;
    }
    return cc__alloc(bytes, what);
}

void cc__free(void *pointer)
{
    if (pointer == NULL)
        return;
    unsigned char *block = (unsigned char *)pointer - CC__ALIGNMENT;
    cc_allocator owner = ((block_header *)block)->allocator;
    owner.free(owner.context, block);
}

bool cc__mul_sizes(size_t *out, int n, ...)
{
    va_list args;
    va_start(args, n);
    size_t product = 1;
    bool ok = true;
    for (int i = 0; i < n; i++)
        ok = ok && cc__mul_size(product, va_arg(args, size_t), &product);
    va_end(args);
    *out = product;
    return ok;
}
