/* The family's transpose (DB_TRANSPOSE), instantiated per ISA by
 * direct_body.h: whole DV x DV blocks through dv_transpose, in registers;
 * the edges one float at a time. Contract in direct_kernels.h. */

void DB_TRANSPOSE(const float *in, ptrdiff_t in_ld, size_t rows, size_t cols, float *out,
                  ptrdiff_t out_ld)
{
    const size_t whole_rows = rows - rows % DV, whole_cols = cols - cols % DV;
    for (size_t i = 0; i < whole_rows; i += DV) {
        for (size_t j = 0; j < whole_cols; j += DV)
            dv_transpose(in + (ptrdiff_t)i * in_ld + (ptrdiff_t)j, in_ld, DV,
                         out + (ptrdiff_t)j * out_ld + (ptrdiff_t)i, out_ld, DV);
        for (size_t j = whole_cols; j < cols; j++)
            for (size_t r = i; r < i + DV; r++)
                out[(ptrdiff_t)j * out_ld + (ptrdiff_t)r] = in[(ptrdiff_t)r * in_ld + (ptrdiff_t)j];
    }
    for (size_t r = whole_rows; r < rows; r++)
        for (size_t j = 0; j < cols; j++)
            out[(ptrdiff_t)j * out_ld + (ptrdiff_t)r] = in[(ptrdiff_t)r * in_ld + (ptrdiff_t)j];
}
