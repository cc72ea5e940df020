/* The family's transpose (DB_TRANSPOSE), instantiated per ISA by
 * direct_body.h: whole DV x DV blocks through dv_transpose, in registers;
 * the edges one float at a time. Contract in direct_kernels.h. */

/* Whether rows ld floats apart collide: a multiple of 256 floats, so that
 * a block's 16 rows of 64 bytes are a power of two apart. */
static inline bool db_rows_collide(ptrdiff_t ld) { return ld % 256 == 0; }

/* Whole blocks, those of a row of blocks of `in` one after the other (the
 * next block along in's rows), or, when out's rows collide and in's do
 * not, those of a column (along out's rows): each of a block's 16 rows of
 * out is then continued by the next block, where going along in's rows
 * wrote 16 new lines a block, a power of two apart (Zen 5, 1 thread, NCHW
 * to NHWC, alternating builds, us: [2048][49] 41.0 -> 23.5, [1024][196]
 * 91.1 -> 41.3, [512][49] 5.0 -> 2.5, [256][196] 7.7 -> 4.0). A first
 * rule, along the rows of whichever matrix is wider, lost where no stride
 * collides ([832][49] 3.0-3.9 -> 4.0-5.0, NHWC to NCHW [784][512] 44-50 ->
 * 57-66). Whole layers through
 * NHWC, 1 thread, ms: ResNet-50's 1024 -> 2048 stride-2 1x1 1.09-1.14 ->
 * 1.03-1.07, its 2048 -> 512 1x1 0.525-0.538 -> 0.515-0.531. */
static inline void db_transpose_blocks(const float *in, ptrdiff_t in_ld, size_t whole_rows,
                                       size_t whole_cols, float *out, ptrdiff_t out_ld)
{
    if (db_rows_collide(out_ld) && !db_rows_collide(in_ld)) {
        for (size_t j = 0; j < whole_cols; j += DV)
            for (size_t i = 0; i < whole_rows; i += DV)
                dv_transpose(in + (ptrdiff_t)i * in_ld + (ptrdiff_t)j, in_ld, DV,
                             out + (ptrdiff_t)j * out_ld + (ptrdiff_t)i, out_ld, DV);
        return;
    }
    for (size_t i = 0; i < whole_rows; i += DV)
        for (size_t j = 0; j < whole_cols; j += DV)
            dv_transpose(in + (ptrdiff_t)i * in_ld + (ptrdiff_t)j, in_ld, DV,
                         out + (ptrdiff_t)j * out_ld + (ptrdiff_t)i, out_ld, DV);
}

void DB_TRANSPOSE(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols, float *out,
                  ptrdiff_t out_ld)
{
    const size_t whole_rows = rows - rows % DV, whole_cols = cols - cols % DV;
    db_transpose_blocks(in, in_ld, whole_rows, whole_cols, out, out_ld);
    for (size_t i = 0; i < whole_rows; i += DV)
        for (size_t j = whole_cols; j < cols; j++)
            for (size_t r = i; r < i + DV; r++)
                out[(ptrdiff_t)j * out_ld + (ptrdiff_t)r] = in[(ptrdiff_t)r * in_ld + (ptrdiff_t)j];
    for (size_t r = whole_rows; r < rows; r++)
        for (size_t j = 0; j < cols; j++)
            out[(ptrdiff_t)j * out_ld + (ptrdiff_t)r] = in[(ptrdiff_t)r * in_ld + (ptrdiff_t)j];
}
