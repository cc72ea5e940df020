/* The direct path's pointwise kernel (NCHW, 1x1 without padding), written
 * over the vector vocabulary of direct_body.h, which includes this file at
 * its end; the includer also defines DB_POINTWISE_UNIT, the entry point's
 * name.
 *
 * A pointwise layer is a GEMM per image and group:
 *   out[OCg x P] (rows OH*OW apart) = W[OCg x Cg] * in[Cg x P]
 * over the P output pixels of the plane. The packed weights are the rows
 * kind's ([group][mb][cg][M], M = DB_ROWS_M), the register tile is M output
 * channels x NR = DB_ROWS_W * DV pixels, weights broadcast, pixels as
 * vectors. K (input channels) is cut into blocks of KC so that a panel of
 * KC x NR input values fits in L1 (4096 floats); the panel is copied from
 * the input (gathered when strided, zeros past the last pixel) once per
 * unit, block and NR pixels and serves every channel block of the unit,
 * whose M x KC weights stay in L2 from one panel to the next. Blocks after
 * the first add to the stored output; the last adds the bias and applies
 * the activation before it stores. */

#define DB_PW_NR (DB_ROWS_W * DV)
#define DB_PW_KC (CC__DIRECT_POINTWISE_PANEL_FLOATS / DB_PW_NR)

/* Lanes of vector v of a row of `count` values (0 <= result <= DV). */
static inline int db_pw_lanes(int count, int v)
{
    const int lanes = count - v * DV;
    return lanes < 0 ? 0 : (lanes > DV ? DV : lanes);
}

/* The offset in a channel's plane of the input pixel of output pixel p. */
static inline ptrdiff_t db_pw_input_offset(const cc__direct_job *j, size_t p)
{
    const size_t oy = p / (size_t)j->g->ow, ox = p % (size_t)j->g->ow;
    return (ptrdiff_t)oy * j->g->sh * j->in_y + (ptrdiff_t)ox * j->g->sw;
}

/* panel[t][0..NR) = input channel k0 + t at output pixels p0 .. p0 + count,
 * zeros past count in the vectors the core reads. in: the image's first
 * channel of the group. The input of the panel that follows (channels
 * next_k0 + t that exist, its first and last pixels, from next_p0) is
 * prefetched meanwhile: without that, the copy waits on a cache miss per
 * channel (a quarter of the run, measured on ResNet's 56x56 layers). */
DB_INLINE void db_pw_pack(const cc__direct_job *j, const float *in, size_t k0, int kn,
                          size_t p0, int count, size_t next_k0, size_t next_p0, float *panel)
{
    const cc__conv_geom *g = j->g;
    const size_t pixels = cc__geom_pixels(g), next_last = next_p0 + DB_PW_NR - 1;
    const ptrdiff_t next_first_at = db_pw_input_offset(j, next_p0);
    const ptrdiff_t next_last_at = db_pw_input_offset(j, next_last < pixels ? next_last : next_p0);
    const int next_rows = next_k0 < (size_t)g->cg ? db_min(kn, (int)((size_t)g->cg - next_k0)) : 0;
    for (int t = 0; t < next_rows; t++) {
        const float *next = in + (ptrdiff_t)(next_k0 + (size_t)t) * j->in_c;
        __builtin_prefetch(next + next_first_at);
        __builtin_prefetch(next + next_last_at);
    }
    /* The vectors the core reads: one for a narrow panel (db_pw_tile). */
    const int vectors = count <= DV ? 1 : DB_ROWS_W;
    if (g->sh == 1 && g->sw == 1) { /* output pixel p reads input pixel p */
        for (int t = 0; t < kn; t++) {
            const float *src = in + (ptrdiff_t)(k0 + (size_t)t) * j->in_c + (ptrdiff_t)p0;
            float *dst = panel + (size_t)t * DB_PW_NR;
#pragma GCC unroll 4
            for (int v = 0; v < vectors; v++) {
                const int lanes = db_pw_lanes(count, v);
                dv_store(dst + v * DV,
                         lanes == DV ? dv_load(src + v * DV) : dv_load_n(src + v * DV, lanes));
            }
        }
        return;
    }
    ptrdiff_t offset[DB_PW_NR];
    for (int i = 0; i < count; i++)
        offset[i] = db_pw_input_offset(j, p0 + (size_t)i);
    for (int t = 0; t < kn; t++) {
        const float *src = in + (ptrdiff_t)(k0 + (size_t)t) * j->in_c;
        float *dst = panel + (size_t)t * DB_PW_NR;
        for (int i = 0; i < count; i++)
            dst[i] = src[offset[i]];
        for (int i = count; i < vectors * DV; i++)
            dst[i] = 0.0f;
    }
}

/* The register tile alone: tile[M][NR] = (zero ? 0 : tile) + w[kn][M] x
 * panel[kn][nv*DV] (rows ld apart), nv (1 or DB_ROWS_W) a constant where
 * it is inlined; meanwhile the next channel block's kn x M weights (from
 * `ahead`) are prefetched: in a network the weights come from memory, and
 * each weight here serves a single FMA per lane vector (Winograd's 14x14
 * layers, 16 tiles: 1.5-1.7 ms with cold caches against 0.8 with warm
 * ones).
 * With the edge cases of db_pw_tile in the same function, gcc kept the
 * accumulators on the stack, loaded and stored around every FMA (the
 * Winograd products ran at 45% of the FMA peak on a Zen 5); here they stay
 * in registers. */
DB_INLINE void db_pw_core(const float *w, const float *ahead, const float *panel,
                          ptrdiff_t ld, int kn, float *tile, bool zero, int nv)
{
    dvec acc[DB_ROWS_M][DB_ROWS_W];
#pragma GCC unroll 16
    for (int r = 0; r < DB_ROWS_M; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = zero ? dv_zero() : dv_load(tile + r * DB_PW_NR + v * DV);
#pragma GCC unroll 4
    for (int t = 0; t < kn; t++) {
        const float *wt = w + (size_t)t * DB_ROWS_M;
        const float *pt = panel + (ptrdiff_t)t * ld;
        __builtin_prefetch(ahead + (size_t)t * DB_ROWS_M);
        dvec x[DB_ROWS_W];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            x[v] = dv_load(pt + v * DV);
#pragma GCC unroll 16
        for (int r = 0; r < DB_ROWS_M; r++) {
            const dvec a = dv_bcast(wt[r]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[r][v] = dv_fma(a, x[v], acc[r][v]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < DB_ROWS_M; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            dv_store(tile + r * DB_PW_NR + v * DV, acc[r][v]);
}

static __attribute__((noinline)) void db_pw_core_wide(const float *w, const float *ahead,
                                                      const float *panel, ptrdiff_t ld, int kn,
                                                      float *tile, bool zero)
{
    db_pw_core(w, ahead, panel, ld, kn, tile, zero, DB_ROWS_W);
}

static __attribute__((noinline)) void db_pw_core_narrow(const float *w, const float *ahead,
                                                        const float *panel, ptrdiff_t ld, int kn,
                                                        float *tile, bool zero)
{
    db_pw_core(w, ahead, panel, ld, kn, tile, zero, 1);
}

/* Output rows [0, rows) x pixels [0, count) at out (rows ld apart) +=
 * (or, when `first`, =) w[kn][M] x panel[kn][nv*DV] (rows panel_ld
 * apart); when `last`, plus the bias (per row, may be NULL) and the
 * residual (laid out as out, may be NULL), and through the activation. nv is DB_ROWS_W, or 1 for a panel
 * of at most DV pixels (the last of a small plane: 7x7's 49 pixels fill
 * 49 of 56 lanes rather than 49 of 64). The sums go through a tile on the
 * stack (db_pw_core); the rows and lanes outside the output stay there. */
DB_INLINE void db_pw_tile(const cc__direct_job *j, const float *w, const float *ahead,
                          const float *panel, ptrdiff_t panel_ld, int kn, float *out,
                          ptrdiff_t ld, int rows, int count, bool first, bool last,
                          const float *bias, const float *residual, int nv)
{
    float tile[DB_ROWS_M * DB_PW_NR] __attribute__((aligned(64)));
    for (int r = 0; r < DB_ROWS_M && !first; r++)
        for (int v = 0; v < nv; v++) {
            const int lanes = r < rows ? db_pw_lanes(count, v) : 0;
            const float *o = out + r * ld + v * DV;
            dv_store(tile + r * DB_PW_NR + v * DV,
                     lanes == DV ? dv_load(o) : lanes == 0 ? dv_zero() : dv_load_n(o, lanes));
        }
    if (nv == 1)
        db_pw_core_narrow(w, ahead, panel, panel_ld, kn, tile, first);
    else
        db_pw_core_wide(w, ahead, panel, panel_ld, kn, tile, first);
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            const int lanes = db_pw_lanes(count, v);
            float *o = out + r * ld + v * DV;
            dvec value = dv_load(tile + r * DB_PW_NR + v * DV);
            if (lanes == 0)
                break;
            if (!last) {
                if (lanes == DV)
                    dv_store(o, value);
                else
                    dv_store_n(o, value, lanes);
                continue;
            }
            if (bias != NULL)
                value = dv_add(value, dv_bcast(bias[r]));
            if (residual != NULL) {
                const float *q = residual + r * ld + v * DV;
                value = dv_add(value, lanes == DV ? dv_load(q) : dv_load_n(q, lanes));
            }
            db_store_act(o, value, lanes, j->g->act);
        }
}

void DB_POINTWISE_UNIT(const cc__direct_job *j, int n, int group, int mb_lo, int mb_hi,
                       size_t p_lo, size_t p_hi)
{
    const cc__conv_geom *g = j->g;
    float panel[DB_PW_KC * DB_PW_NR] __attribute__((aligned(64)));
    const size_t cg = (size_t)g->cg;
    const float *in = j->input + n * j->in_n + (ptrdiff_t)group * g->cg * j->in_c;
    const size_t oc_group = (size_t)group * g->ocg;
    float *out = j->output + n * j->out_n + (ptrdiff_t)oc_group * j->out_c;
    /* K in equal blocks of at most KC (256 channels: 4 x 64, not 3 x 85 and
     * a block of 1 that loads and stores the whole tile for one step). */
    const size_t k_blocks = (cg + DB_PW_KC - 1) / DB_PW_KC;
    const size_t kc = (cg + k_blocks - 1) / k_blocks;
    for (size_t k0 = 0; k0 < cg; k0 += kc) {
        const int kn = (int)(cg - k0 < kc ? cg - k0 : kc);
        const bool first = k0 == 0, last = k0 + (size_t)kn == cg;
        for (size_t p0 = p_lo; p0 < p_hi; p0 += DB_PW_NR) {
            const int count = (int)(p_hi - p0 < DB_PW_NR ? p_hi - p0 : DB_PW_NR);
            const bool block_ends = p0 + DB_PW_NR >= p_hi;
            /* One whole vector or panel of pixels at stride 1 is read in
             * place (Winograd's blocks of 16 or 48 tiles; 1x1 layers
             * within the noise); anything else through the panel. */
            const bool in_place = (count == DV || count == DB_PW_NR) && g->sh == 1 && g->sw == 1;
            const float *rows =
                in_place ? in + (ptrdiff_t)k0 * j->in_c + (ptrdiff_t)p0 : panel;
            const ptrdiff_t rows_ld = in_place ? j->in_c : (ptrdiff_t)DB_PW_NR;
            if (!in_place)
                db_pw_pack(j, in, k0, kn, p0, count, block_ends ? k0 + kc : k0,
                           block_ends ? p_lo : p0 + DB_PW_NR, panel);
            for (int mb = mb_lo; mb < mb_hi; mb++) {
                const int oc0 = mb * DB_ROWS_M;
                const float *w =
                    j->packed + (((size_t)group * j->blocks + (size_t)mb) * cg + k0) * DB_ROWS_M;
                /* The next block's weights for this K block (the last
                 * block's own: a prefetch never leaves the array). */
                const float *ahead = mb + 1 < mb_hi ? w + cg * DB_ROWS_M : w;
                const float *bias = j->bias != NULL ? j->bias + oc_group + (size_t)oc0 : NULL;
                float *o = out + (ptrdiff_t)oc0 * j->out_c + (ptrdiff_t)p0;
                const float *res = j->residual != NULL ? j->residual + (o - j->output) : NULL;
                const int out_rows = db_min(DB_ROWS_M, g->ocg - oc0);
                if (count <= DV)
                    db_pw_tile(j, w, ahead, rows, rows_ld, kn, o, j->out_c, out_rows, count,
                               first, last, bias, res, 1);
                else
                    db_pw_tile(j, w, ahead, rows, rows_ld, kn, o, j->out_c, out_rows, count,
                               first, last, bias, res, DB_ROWS_W);
            }
        }
    }
}

#undef DB_PW_NR
#undef DB_PW_KC
