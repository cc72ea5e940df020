/* The small GEMM of the layer kernels (kernels.h, `gemm`), in the vocabulary
 * of kernels_body.h, which includes this file once per ISA.
 *
 * C[i][j] (+)= sum_p A(i, p) B[p][j] with no packing: A's elements are
 * broadcast from wherever they are (A(i, p) = a[i a_rs + p a_cs], so a
 * matrix and its transpose are read in place), B's and C's rows are
 * contiguous. A block of GEMM_ROWS rows of C by GEMM_VECTORS vectors stays
 * in registers while p runs, and p goes in chunks of GEMM_DEPTH so that the
 * panel of B that the row blocks share (GEMM_DEPTH x GEMM_VECTORS vectors,
 * 32 KB on AVX-512) stays in L1. Columns left over at the end, fewer than
 * a block's and not whole vectors, go through a padded copy of their panel
 * (on the stack). Made for the training convolution's
 * per-image products (LeNet's second layer: 50 x 64 x 500), on which
 * OpenBLAS spends as long packing both operands, on every call, as it does
 * multiplying, in AVX2 on every CPU. */

#if KV == 16
/* 24 accumulators, 4 vectors of B and the broadcasts (memory operands): 32
 * zmm registers. */
#define GEMM_ROWS 6
#define GEMM_VECTORS 4
#elif KV == 8
/* 8 accumulators, 2 vectors of B and 4 broadcasts: 16 ymm registers. */
#define GEMM_ROWS 4
#define GEMM_VECTORS 2
#else
#define GEMM_ROWS 4
#define GEMM_VECTORS 4
#endif
#define GEMM_DEPTH 128

/* Cache lines of B that a row block asks for into the L2 while it runs
 * (gemm_small says which): `lines` lines in a row from `at`, an integer
 * because the next panel may lie beyond this call's B (a prefetch never
 * faults). */
typedef struct {
    uintptr_t at;
    size_t lines;
} gemm_prefetch;

#define GEMM_LINE_BYTES 64

/* No epilogue: the sums stored as they are. */
static const cc__gemm_epilogue gemm_no_epilogue = {NULL, false, NULL, CC_ACT_NONE};

/* The epilogue of the block at row i0, column j0 of C: none when `whole` is
 * NULL or the sums are not finished. */
static cc__gemm_epilogue gemm_block_epilogue(const cc__gemm_epilogue *whole, bool finished,
                                             size_t i0, size_t j0, size_t ldc)
{
    return whole == NULL || !finished ? gemm_no_epilogue
                                      : cc__gemm_epilogue_at(whole, i0, j0, ldc);
}

/* ReLU or ReLU6 of a sum; other activations leave it (the GEMM's
 * epilogues take none else). */
KB_ALWAYS_INLINE kvec gemm_act(kvec sum, cc_act act)
{
    if (act == CC_ACT_RELU)
        return kv_relu(sum);
    if (act == CC_ACT_RELU6)
        return kv_cap(kv_relu(sum), 6.0f);
    return sum;
}

/* act(sum + bias + residual) of vector `v` of row r: bias and residual
 * loads of n lanes (n < KV: partial, masked). */
KB_ALWAYS_INLINE kvec gemm_finish(kvec sum, const cc__gemm_epilogue *ep, int r, size_t column,
                                  size_t ldr, int n)
{
    if (ep->bias != NULL)
        sum = kv_add(sum, ep->bias_per_row ? kv_set1(ep->bias[r])
                          : n == KV        ? kv_load(ep->bias + column)
                                           : kv_load_n(ep->bias + column, n));
    if (ep->residual != NULL) {
        const float *res = ep->residual + (size_t)r * ldr + column;
        sum = kv_add(sum, n == KV ? kv_load(res) : kv_load_n(res, n));
    }
    return gemm_act(sum, ep->act);
}

/* The block's sums stored as act(sum + bias + residual), `act` constant
 * where it is inlined (gemm_act's activations), the epilogue's fields
 * read into locals and the loops unrolled by pragma: otherwise GCC kept
 * the accumulators on the stack for a rolled loop that reloaded each field
 * (the stores to C might alias them) and tested the activation for every
 * vector. Zen 5, one thread, NHWC 16 -> 64 at 28x28 with ReLU6 (16 FMA
 * steps a block): 0.0111 -> 0.0084 ms; with `act` a variable, 0.0099-0.0137. */
KB_ALWAYS_INLINE void gemm_store_block(int rows, int vectors,
                                       kvec acc[GEMM_ROWS][GEMM_VECTORS], float *c, size_t ldc,
                                       const cc__gemm_epilogue *ep, cc_act act)
{
    const float *bias = ep->bias, *residual = ep->residual;
    const bool bias_per_row = ep->bias_per_row;
    kvec column_bias[GEMM_VECTORS];
#pragma GCC unroll 4
    for (int v = 0; v < vectors; v++)
        column_bias[v] = bias != NULL && !bias_per_row ? kv_load(bias + (size_t)v * KV)
                                                       : kv_set1(0.0f);
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) {
        const kvec row_bias = bias != NULL && bias_per_row ? kv_set1(bias[r]) : kv_set1(0.0f);
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++) {
            kvec sum = acc[r][v];
            if (bias != NULL)
                sum = kv_add(sum, bias_per_row ? row_bias : column_bias[v]);
            if (residual != NULL)
                sum = kv_add(sum, kv_load(residual + (size_t)r * ldc + (size_t)v * KV));
            kv_store(c + (size_t)r * ldc + (size_t)v * KV, gemm_act(sum, act));
        }
    }
}

/* The next row block's lines of C (GEMM_ROWS rows on), asked for to be
 * written, for blocks of this depth or less: they store a block of C for
 * every few multiply-adds, faster than one core fills lines it writes from
 * memory (Zen 5, 1 thread, MobileNet-v2's 16 -> 96 at 112x112 in the
 * network, 4.8 MB out: 0.286 -> 0.246 ms; with depth 96 the asks cost 3%
 * on warm 14x14 layers). An integer address: the next block may lie past
 * C (a prefetch never faults). */
#define GEMM_WRITE_AHEAD_DEPTH 32

KB_ALWAYS_INLINE void gemm_write_ahead(int rows, int vectors, float *c, size_t ldc)
{
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++) {
            const size_t at = (size_t)(GEMM_ROWS + r) * ldc + (size_t)v * KV;
            __builtin_prefetch((const void *)((uintptr_t)c + at * sizeof(float)), 1, 3);
        }
}

/* rows x vectors (<= GEMM_VECTORS) vectors of C over p < depth: rows and
 * vectors constant where it is inlined, so that the accumulators stay in
 * registers (gcc kept them in memory, stored on every step, in variants
 * with a partial last vector: partial columns go through a padded panel
 * instead; without the unroll pragmas, in every variant). */
KB_ALWAYS_INLINE void gemm_block_kind(int rows, int vectors, size_t depth, const float *a,
                                      size_t a_rs, size_t a_cs, const float *b, size_t ldb,
                                      float *c, size_t ldc, bool accumulate, gemm_prefetch ahead,
                                      const cc__gemm_epilogue *ep)
{
    kvec acc[GEMM_ROWS][GEMM_VECTORS];
    const float *row_a[GEMM_ROWS];
    if (depth <= GEMM_WRITE_AHEAD_DEPTH)
        gemm_write_ahead(rows, vectors, c, ldc);
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++) {
        row_a[r] = a + (size_t)r * a_rs;
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++)
            acc[r][v] = accumulate ? kv_load(c + (size_t)r * ldc + (size_t)v * KV) : kv_set1(0.0f);
    }
    for (size_t p = 0; p < depth; p++) {
        if (p < ahead.lines)
            __builtin_prefetch((const void *)(ahead.at + p * GEMM_LINE_BYTES), 0, 2);
        kvec bv[GEMM_VECTORS];
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++)
            bv[v] = kv_load(b + p * ldb + (size_t)v * KV);
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++) {
            const kvec av = kv_set1(row_a[r][p * a_cs]);
#pragma GCC unroll 4
            for (int v = 0; v < vectors; v++)
                acc[r][v] = kv_fma(av, bv[v], acc[r][v]);
        }
    }
    switch (ep->act) {
    case CC_ACT_RELU:
        gemm_store_block(rows, vectors, acc, c, ldc, ep, CC_ACT_RELU);
        break;
    case CC_ACT_RELU6:
        gemm_store_block(rows, vectors, acc, c, ldc, ep, CC_ACT_RELU6);
        break;
    default:
        gemm_store_block(rows, vectors, acc, c, ldc, ep, CC_ACT_NONE);
        break;
    }
    for (size_t l = depth; l < ahead.lines; l++)
        __builtin_prefetch((const void *)(ahead.at + l * GEMM_LINE_BYTES), 0, 2);
}

/* One instance per block height, for `vectors` vectors. */
KB_ALWAYS_INLINE void gemm_block_rows(int rows, int vectors, size_t depth, const float *a,
                                      size_t a_rs, size_t a_cs, const float *b, size_t ldb,
                                      float *c, size_t ldc, bool accumulate, gemm_prefetch ahead,
                                      const cc__gemm_epilogue *ep)
{
    switch (rows) {
    case 1:
        gemm_block_kind(1, vectors, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
    case 2:
        gemm_block_kind(2, vectors, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
    case 3:
        gemm_block_kind(3, vectors, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
#if GEMM_ROWS > 4
    case 5:
        gemm_block_kind(5, vectors, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
    case 6:
        gemm_block_kind(6, vectors, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
#endif
    default:
        gemm_block_kind(4, vectors, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
    }
}

static void gemm_block(int rows, int vectors, size_t depth, const float *a, size_t a_rs,
                       size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
                       bool accumulate, gemm_prefetch ahead, const cc__gemm_epilogue *ep)
{
    switch (vectors) {
    case 1:
        gemm_block_rows(rows, 1, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
#if GEMM_VECTORS > 2
    case 3:
        gemm_block_rows(rows, 3, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
#endif
#if GEMM_VECTORS > 3
    case 2:
        gemm_block_rows(rows, 2, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, ahead, ep);
        break;
#endif
    default:
        gemm_block_rows(rows, GEMM_VECTORS, depth, a, a_rs, a_cs, b, ldb, c, ldc, accumulate,
                        ahead, ep);
        break;
    }
}

/* Row block `block` of `blocks`: its share of the lines `next` asks for. */
static gemm_prefetch gemm_prefetch_share(gemm_prefetch next, size_t block, size_t blocks)
{
    const size_t per_block = (next.lines + blocks - 1) / blocks;
    const size_t first = block * per_block < next.lines ? block * per_block : next.lines;
    const size_t last = first + per_block < next.lines ? first + per_block : next.lines;
    return (gemm_prefetch){next.at + first * GEMM_LINE_BYTES, last - first};
}

/* The last columns, narrower than a panel and not whole vectors (whole
 * vectors are computed in C like a panel): B's rows copied into a panel of
 * the fewest whole vectors that hold them, padded with zeros (once for
 * every row block), each block of C computed in a padded tile of that
 * width and its `width` columns copied out. (A 14 x 14 image's 196
 * columns: three panels and one vector, not a fourth panel of 64.) The
 * row blocks ask for `next` meanwhile; the copy out applies `ep`, this C's
 * epilogue. */
static void gemm_narrow(size_t m, size_t width, size_t depth, const float *a, size_t a_rs,
                        size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
                        bool accumulate, gemm_prefetch next, const cc__gemm_epilogue *ep)
{
    enum { PANEL = GEMM_VECTORS * KV };
    float padded[GEMM_DEPTH * PANEL];
    float tile[GEMM_ROWS * PANEL];
    const int vectors = (int)((width + KV - 1) / KV);
    const size_t pitch = (size_t)vectors * KV;
    const size_t blocks = (m + GEMM_ROWS - 1) / GEMM_ROWS;
    for (size_t p = 0; p < depth; p++) {
        memcpy(padded + p * pitch, b + p * ldb, width * sizeof(float));
        memset(padded + p * pitch + width, 0, (pitch - width) * sizeof(float));
    }
    for (size_t i0 = 0; i0 < m; i0 += GEMM_ROWS) {
        const int rows = m - i0 < GEMM_ROWS ? (int)(m - i0) : GEMM_ROWS;
        for (int r = 0; r < rows && accumulate; r++)
            memcpy(tile + (size_t)r * pitch, c + (i0 + (size_t)r) * ldc, width * sizeof(float));
        gemm_block(rows, vectors, depth, a + i0 * a_rs, a_rs, a_cs, padded, pitch, tile, pitch,
                   accumulate, gemm_prefetch_share(next, i0 / GEMM_ROWS, blocks),
                   &gemm_no_epilogue);
        const cc__gemm_epilogue at = cc__gemm_epilogue_at(ep, i0, 0, ldc);
        for (int r = 0; r < rows; r++)
            for (size_t x = 0; x < width; x += KV) {
                const int n = width - x < KV ? (int)(width - x) : KV;
                const kvec v =
                    gemm_finish(kv_load(tile + (size_t)r * pitch + x), &at, r, x, ldc, n);
                if (n == KV)
                    kv_store(c + (i0 + (size_t)r) * ldc + x, v);
                else
                    kv_store_n(c + (i0 + (size_t)r) * ldc + x, v, n);
            }
    }
}

/* What the chunk of rows [p0, p0 + depth) of a packed panel (B of one
 * panel's width or less, ldb == n: gemm.h's weight panels) asks for while
 * it runs: the next chunk, which follows it in memory, or after the last
 * the memory beyond, where the next panel's first chunk starts (as many
 * rows, the panels of a layer being alike). Inside a network the
 * weights come from memory, and without this the first row block of each
 * chunk waited on its lines one by one (Zen 5, one thread, MobileNet-v2's
 * 960 -> 160 at 7x7 after 64 MB of other traffic: 0.113 -> 0.093 ms; warm
 * 0.087 either way). */
static gemm_prefetch gemm_next_chunk(const float *b, size_t ldb, size_t k, size_t p0,
                                     size_t depth)
{
    const size_t rows_after = k - p0 - depth;
    const size_t rows_next = rows_after == 0 ? k : rows_after;
    const size_t rows = rows_next < GEMM_DEPTH ? rows_next : GEMM_DEPTH;
    const size_t row_floats = rows_after == 0 ? (size_t)GEMM_VECTORS * KV : ldb;
    const size_t bytes = rows * row_floats * sizeof(float);
    return (gemm_prefetch){(uintptr_t)b + (p0 + depth) * ldb * sizeof(float),
                           (bytes + GEMM_LINE_BYTES - 1) / GEMM_LINE_BYTES};
}

/* The epilogue alone, over C as it is (a product with k == 0). */
static void gemm_finish_only(size_t m, size_t n, float *c, size_t ldc,
                             const cc__gemm_epilogue *epilogue)
{
    for (size_t i = 0; i < m && epilogue != NULL; i++) {
        const cc__gemm_epilogue at = cc__gemm_epilogue_at(epilogue, i, 0, ldc);
        for (size_t x = 0; x < n; x += KV) {
            const int lanes = n - x < KV ? (int)(n - x) : KV;
            float *row = c + i * ldc + x;
            const kvec v = gemm_finish(kv_load_n(row, lanes), &at, 0, x, ldc, lanes);
            kv_store_n(row, v, lanes);
        }
    }
}

/* Columns left over after whole vectors, when A's rows are contiguous and
 * the depth long: dot products of A's rows with those columns of B, copied
 * transposed a depth chunk at a time (gemm_dots: every lane useful),
 * where the padded panel of gemm_narrow spends a whole vector of
 * broadcasts and multiply-adds per row and step on them. From
 * GEMM_NT_TAIL_MIN_DEPTH steps, so that the sums across the lanes, once a
 * chunk, stay a small part. When there are whole vectors too, each row
 * block's tail is summed right after the block's share of the last panel
 * (gemm_rows), on the rows of A that the block has just brought to L1: on
 * its own after the panels, the tail read the whole of A once more, from
 * L3 when A is a layer's weights, and a 4 x 4 tile of gemm_nt_sum ran 16
 * multiply-adds a step for one column. Zen 5, 1 thread, 256 x 49 x 4608
 * (half of the GEMM of ResNet-50's 512-channel stride-2 3x3 layer in
 * NCHW), alternating builds: 598-613 -> 565-574 us (48 columns alone:
 * 505-528). An NCHW 1x1 layer on a 14x14 image: three panels and 4
 * columns. */
#define GEMM_NT_TAIL_MIN_DEPTH 64

static bool gemm_nt_tail_pays(size_t n, size_t k, size_t a_cs)
{
    return a_cs == 1 && n % KV != 0 && k >= GEMM_NT_TAIL_MIN_DEPTH;
}

/* B's columns [0, width) over the chunk's `depth` rows, transposed into
 * `columns` (width rows of depth). */
static void gemm_tail_columns(size_t width, size_t depth, const float *b, size_t ldb,
                              float *columns)
{
    for (size_t p = 0; p < depth; p++)
        for (size_t j = 0; j < width; j++)
            columns[j * depth + p] = b[p * ldb + j];
}

/* Tail columns a dot-product tile takes at once: rows x this many sums
 * in registers with a vector of each column and one of A's row
 * (AVX-512: 6 x 4 + 4 + 1 of 32 registers; AVX2: 4 x 2 + 2 + 1 of 16). */
#if KV == 8
#define GEMM_TAIL_GROUP 2
#else
#define GEMM_TAIL_GROUP 4
#endif

/* C[r][j] += the dot product of A's row r (a_rs apart) with the
 * transposed column j (depth floats, `columns` + j depth), for rows x
 * width sums, constant where inlined so that the sums stay in registers:
 * one column vector and one row vector per multiply-add of each, where a
 * 4 x 4 tile of gemm_nt_sum ran 16 multiply-adds for a single column. */
KB_ALWAYS_INLINE void gemm_dots_kind(int rows, int width, size_t depth, const float *a,
                                     size_t a_rs, const float *columns, float *c, size_t ldc)
{
    kvec acc[GEMM_ROWS][GEMM_TAIL_GROUP];
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int j = 0; j < width; j++)
            acc[r][j] = kv_set1(0.0f);
    const size_t whole = depth / KV * KV;
    for (size_t p = 0; p < depth; p += KV) {
        const int lanes = p < whole ? KV : (int)(depth - p);
        kvec column[GEMM_TAIL_GROUP];
#pragma GCC unroll 4
        for (int j = 0; j < width; j++)
            column[j] = lanes == KV ? kv_load(columns + (size_t)j * depth + p)
                                    : kv_load_n(columns + (size_t)j * depth + p, lanes);
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++) {
            const float *row = a + (size_t)r * a_rs + p;
            const kvec av = lanes == KV ? kv_load(row) : kv_load_n(row, lanes);
#pragma GCC unroll 4
            for (int j = 0; j < width; j++)
                acc[r][j] = kv_fma(av, column[j], acc[r][j]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int j = 0; j < width; j++)
            c[(size_t)r * ldc + (size_t)j] += kv_hsum(acc[r][j]);
}

KB_ALWAYS_INLINE void gemm_dots_rows(int rows, int width, size_t depth, const float *a,
                                     size_t a_rs, const float *columns, float *c, size_t ldc)
{
    switch (width) {
    case 1:
        gemm_dots_kind(rows, 1, depth, a, a_rs, columns, c, ldc);
        break;
#if GEMM_TAIL_GROUP > 2
    case 3:
        gemm_dots_kind(rows, 3, depth, a, a_rs, columns, c, ldc);
        break;
    case 4:
        gemm_dots_kind(rows, 4, depth, a, a_rs, columns, c, ldc);
        break;
#endif
    default:
        gemm_dots_kind(rows, 2, depth, a, a_rs, columns, c, ldc);
        break;
    }
}

/* gemm_dots_kind for up to GEMM_ROWS rows and GEMM_TAIL_GROUP columns. */
static void gemm_dots(int rows, int width, size_t depth, const float *a, size_t a_rs,
                      const float *columns, float *c, size_t ldc)
{
    switch (rows) {
    case 1:
        gemm_dots_rows(1, width, depth, a, a_rs, columns, c, ldc);
        break;
    case 2:
        gemm_dots_rows(2, width, depth, a, a_rs, columns, c, ldc);
        break;
    case 3:
        gemm_dots_rows(3, width, depth, a, a_rs, columns, c, ldc);
        break;
#if GEMM_ROWS > 4
    case 5:
        gemm_dots_rows(5, width, depth, a, a_rs, columns, c, ldc);
        break;
    case 6:
        gemm_dots_rows(6, width, depth, a, a_rs, columns, c, ldc);
        break;
#endif
    default:
        gemm_dots_rows(4, width, depth, a, a_rs, columns, c, ldc);
        break;
    }
}

/* C's `width` tail columns of `rows` rows (at most GEMM_ROWS) (+)= A's rows
 * times the chunk's transposed columns; then `ep`'s epilogue when not NULL
 * (the last chunk). */
static void gemm_tail_block(int rows, size_t width, size_t depth, const float *a, size_t a_rs,
                            const float *columns, float *c, size_t ldc, bool add,
                            const cc__gemm_epilogue *ep)
{
    for (int i = 0; i < rows && !add; i++)
        memset(c + (size_t)i * ldc, 0, width * sizeof(float));
    for (size_t j0 = 0; j0 < width; j0 += GEMM_TAIL_GROUP) {
        const int group = width - j0 < GEMM_TAIL_GROUP ? (int)(width - j0) : GEMM_TAIL_GROUP;
        gemm_dots(rows, group, depth, a, a_rs, columns + j0 * depth, c + j0, ldc);
    }
    if (ep != NULL)
        gemm_finish_only((size_t)rows, width, c, ldc, ep);
}

/* The epilogue of C's tail columns from `whole` for the block at row i0:
 * NULL unless the sums are finished. */
static const cc__gemm_epilogue *gemm_tail_epilogue(const cc__gemm_epilogue *whole_ep,
                                                   bool finished, size_t i0, size_t whole,
                                                   size_t ldc, cc__gemm_epilogue *room)
{
    if (whole_ep == NULL || !finished)
        return NULL;
    *room = cc__gemm_epilogue_at(whole_ep, i0, whole, ldc);
    return room;
}

/* A product of fewer columns than a vector: the tail alone, chunk by
 * chunk. */
static void gemm_nt_tail(size_t m, size_t width, size_t k, const float *a, size_t a_rs,
                         const float *b, size_t ldb, float *c, size_t ldc, bool accumulate,
                         const cc__gemm_epilogue *epilogue)
{
    float columns[(KV - 1) * GEMM_DEPTH];
    for (size_t p0 = 0; p0 < k; p0 += GEMM_DEPTH) {
        const size_t depth = k - p0 < GEMM_DEPTH ? k - p0 : GEMM_DEPTH;
        gemm_tail_columns(width, depth, b + p0 * ldb, ldb, columns);
        for (size_t i0 = 0; i0 < m; i0 += GEMM_ROWS) {
            const int rows = m - i0 < GEMM_ROWS ? (int)(m - i0) : GEMM_ROWS;
            cc__gemm_epilogue room;
            gemm_tail_block(rows, width, depth, a + i0 * a_rs + p0, a_rs, columns,
                            c + i0 * ldc, ldc, accumulate || p0 > 0,
                            gemm_tail_epilogue(epilogue, p0 + depth == k, i0, 0, ldc, &room));
        }
    }
}

/* The product (kernels.h `gemm`), each panel's row blocks from the first
 * down or, with last_rows_first, from the last up (`gemm_last_rows_first`). */
static void gemm_rows(size_t m, size_t n, size_t k, const float *a, size_t a_rs, size_t a_cs,
                      const float *b, size_t ldb, float *c, size_t ldc, bool accumulate,
                      const cc__gemm_epilogue *epilogue, bool last_rows_first)
{
    const bool tail = gemm_nt_tail_pays(n, k, a_cs);
    const size_t whole = tail ? n / KV * KV : n;
    if (tail && whole == 0) {
        gemm_nt_tail(m, n, k, a, a_rs, b, ldb, c, ldc, accumulate, epilogue);
        return;
    }
    const size_t panel = GEMM_VECTORS * KV;
    const bool packed = ldb == whole && whole <= panel;
    const size_t blocks = (m + GEMM_ROWS - 1) / GEMM_ROWS;
    float columns[(KV - 1) * GEMM_DEPTH];
    if (k == 0) {
        for (size_t i = 0; i < m && !accumulate; i++)
            memset(c + i * ldc, 0, n * sizeof(float));
        gemm_finish_only(m, n, c, ldc, epilogue);
        return;
    }
    for (size_t j0 = 0; j0 < whole; j0 += panel) {
        const size_t width = whole - j0 < panel ? whole - j0 : panel;
        const bool with_tail = tail && j0 + width == whole;
        for (size_t p0 = 0; p0 < k; p0 += GEMM_DEPTH) {
            const size_t depth = k - p0 < GEMM_DEPTH ? k - p0 : GEMM_DEPTH;
            const float *a_p = a + p0 * a_cs, *b_p = b + p0 * ldb + j0;
            const bool add = accumulate || p0 > 0;
            const bool finished = p0 + depth == k;
            const gemm_prefetch next =
                packed ? gemm_next_chunk(b, ldb, k, p0, depth) : (gemm_prefetch){0, 0};
            if (width < panel && width % KV != 0) {
                const cc__gemm_epilogue ep = gemm_block_epilogue(epilogue, finished, 0, j0, ldc);
                gemm_narrow(m, width, depth, a_p, a_rs, a_cs, b_p, ldb, c + j0, ldc, add, next,
                            &ep);
                continue;
            }
            if (with_tail)
                gemm_tail_columns(n - whole, depth, b + p0 * ldb + whole, ldb, columns);
            for (size_t block = 0; block < blocks; block++) {
                const size_t i0 = (last_rows_first ? blocks - 1 - block : block) * GEMM_ROWS;
                const int rows = m - i0 < GEMM_ROWS ? (int)(m - i0) : GEMM_ROWS;
                const cc__gemm_epilogue ep = gemm_block_epilogue(epilogue, finished, i0, j0, ldc);
                gemm_block(rows, (int)(width / KV), depth, a_p + i0 * a_rs, a_rs, a_cs, b_p, ldb,
                           c + i0 * ldc + j0, ldc, add,
                           gemm_prefetch_share(next, i0 / GEMM_ROWS, blocks), &ep);
                cc__gemm_epilogue room;
                if (with_tail)
                    gemm_tail_block(rows, n - whole, depth, a_p + i0 * a_rs, a_rs,
                                    columns, c + i0 * ldc + whole, ldc, add,
                                    gemm_tail_epilogue(epilogue, finished, i0, whole, ldc, &room));
            }
        }
    }
}

static void gemm_small(size_t m, size_t n, size_t k, const float *a, size_t a_rs, size_t a_cs,
                       const float *b, size_t ldb, float *c, size_t ldc, bool accumulate,
                       const cc__gemm_epilogue *epilogue)
{
    gemm_rows(m, n, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, epilogue, false);
}

static void gemm_last_rows_first(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
                                 size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
                                 bool accumulate, const cc__gemm_epilogue *epilogue)
{
    gemm_rows(m, n, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate, epilogue, true);
}

/* ---- Sums of products of rows ----------------------------------------------
 * C[i][j] += sum over t < images, p < k of A_t[i][p] B_t[j][p]: dot products
 * of rows, vectorised along p, a block of 4 x 4 of them in sixteen named
 * registers across every image (gcc kept arrays of them in memory),
 * summed across the lanes once at the end. A block at the edge reads its
 * last row again in place of the missing ones and keeps only the real
 * sums. The training convolution's weight gradient, dW = sum over images
 * of dY col^T, when too few output channels make the other form's columns
 * (LeNet-5: 6 and 16; its rows of p are the 784 and 100 output pixels). */
#define NT_EDGE 4

#define NT_ROW_FMAS(r, a_)                                                                     \
    s##r##0 = kv_fma(a_, b0, s##r##0);                                                         \
    s##r##1 = kv_fma(a_, b1, s##r##1);                                                         \
    s##r##2 = kv_fma(a_, b2, s##r##2);                                                         \
    s##r##3 = kv_fma(a_, b3, s##r##3);

#define NT_STEP(load_)                                                                         \
    do {                                                                                       \
        const kvec b0 = load_(bq[0] + p), b1 = load_(bq[1] + p);                               \
        const kvec b2 = load_(bq[2] + p), b3 = load_(bq[3] + p);                               \
        const kvec a0 = load_(ar[0] + p), a1 = load_(ar[1] + p);                               \
        const kvec a2 = load_(ar[2] + p), a3 = load_(ar[3] + p);                               \
        NT_ROW_FMAS(0, a0)                                                                     \
        NT_ROW_FMAS(1, a1)                                                                     \
        NT_ROW_FMAS(2, a2)                                                                     \
        NT_ROW_FMAS(3, a3)                                                                     \
    } while (0)

static void gemm_nt_block(int rows, int cols, size_t k, size_t images, const float *a,
                          size_t lda, size_t a_image, const float *b, size_t ldb,
                          size_t b_image, float *c, size_t ldc)
{
    const kvec zero = kv_set1(0.0f);
    kvec s00 = zero, s01 = zero, s02 = zero, s03 = zero, s10 = zero, s11 = zero, s12 = zero;
    kvec s13 = zero, s20 = zero, s21 = zero, s22 = zero, s23 = zero, s30 = zero, s31 = zero;
    kvec s32 = zero, s33 = zero;
    const size_t whole = k / KV * KV;
    const int tail = (int)(k - whole);
    for (size_t t = 0; t < images; t++) {
        const float *ar[NT_EDGE], *bq[NT_EDGE];
        for (int i = 0; i < NT_EDGE; i++) {
            ar[i] = a + t * a_image + (size_t)(i < rows ? i : rows - 1) * lda;
            bq[i] = b + t * b_image + (size_t)(i < cols ? i : cols - 1) * ldb;
        }
        size_t p = 0;
        for (; p < whole; p += KV)
            NT_STEP(kv_load);
#define NT_LOAD_TAIL(ptr) kv_load_n(ptr, tail)
        if (tail > 0)
            NT_STEP(NT_LOAD_TAIL);
#undef NT_LOAD_TAIL
    }
    const kvec sums[NT_EDGE][NT_EDGE] = {
        {s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}};
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < cols; q++)
            c[(size_t)r * ldc + (size_t)q] += kv_hsum(sums[r][q]);
}

#undef NT_STEP
#undef NT_ROW_FMAS

static void gemm_nt_sum(size_t m, size_t n, size_t k, size_t images, const float *a,
                        size_t lda, size_t a_image, const float *b, size_t ldb, size_t b_image,
                        float *c, size_t ldc)
{
    for (size_t i0 = 0; i0 < m; i0 += NT_EDGE) {
        const int rows = m - i0 < NT_EDGE ? (int)(m - i0) : NT_EDGE;
        for (size_t j0 = 0; j0 < n; j0 += NT_EDGE) {
            const int cols = n - j0 < NT_EDGE ? (int)(n - j0) : NT_EDGE;
            gemm_nt_block(rows, cols, k, images, a + i0 * lda, lda, a_image, b + j0 * ldb, ldb,
                          b_image, c + i0 * ldc + j0, ldc);
        }
    }
}

#undef NT_EDGE

#undef GEMM_ROWS
#undef GEMM_VECTORS
#undef GEMM_DEPTH
