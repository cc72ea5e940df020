/* Winograd's transforms: the portable instance of the tile transforms, the
 * choice of instance per ISA, and the weight transform. */
#define WT_NAME(x) x##_portable
#define WT_ISA CC__ISA_SCALAR
#include "winograd_transform_body.h"

cc__wino_transforms cc__wino_transforms_for(cc__isa isa)
{
    switch (isa) {
    case CC__ISA_AVX512:
        return cc__wino_transforms_avx512();
    case CC__ISA_AVX2:
        return cc__wino_transforms_avx2();
    case CC__ISA_SCALAR:
        break;
    }
    return cc__wino_transforms_portable();
}

/* G for F(2x2,3x3) (4 x 3), F(4x4,3x3) (6 x 3) and F(6x6,3x3) (8 x 3). */
static const double g_f2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double g_f4[6][3] = {{1.0 / 4, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};
static const double g_f6[8][3] = {{1, 0, 0},
                                  {-2.0 / 9, -2.0 / 9, -2.0 / 9},
                                  {-2.0 / 9, 2.0 / 9, -2.0 / 9},
                                  {1.0 / 90, 1.0 / 45, 2.0 / 45},
                                  {1.0 / 90, -1.0 / 45, 2.0 / 45},
                                  {32.0 / 45, 16.0 / 45, 8.0 / 45},
                                  {32.0 / 45, -16.0 / 45, 8.0 / 45},
                                  {0, 0, 1}};

void cc__wino_weight(int m, const float w[9], float *u)
{
    const int alpha = m + 2;
    const double(*g)[3] = m == 2 ? g_f2 : m == 4 ? g_f4 : g_f6;
    double gw[CC__WINO_MAX_ALPHA][3]; /* G w */
    for (int i = 0; i < alpha; i++)
        for (int j = 0; j < 3; j++)
            gw[i][j] = g[i][0] * w[j] + g[i][1] * w[3 + j] + g[i][2] * w[6 + j];
    for (int i = 0; i < alpha; i++)
        for (int j = 0; j < alpha; j++)
            u[i * alpha + j] = (float)(gw[i][0] * g[j][0] + gw[i][1] * g[j][1] + gw[i][2] * g[j][2]);
}
