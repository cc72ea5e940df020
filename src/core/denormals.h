/* colconv internals: flush-to-zero scopes around a run (denormals.c). */
#ifndef COLCONV_DENORMALS_H
#define COLCONV_DENORMALS_H

#include "core.h"

typedef struct {
    bool active; /* cc_set_flush_denormals was on when the scope began */
    int threads; /* the team the scope reached */
} cc__flush_scope;

/* When flushing is on, sets FTZ and DAZ on the calling thread and on the
 * OpenMP workers of a team of `threads` (cc__run_threads() of the run). */
cc__flush_scope cc__flush_begin(int threads);
/* Restores what cc__flush_begin changed, on the same team. */
void cc__flush_end(cc__flush_scope scope);

#endif
