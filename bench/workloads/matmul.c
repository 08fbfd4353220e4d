/* Matrix multiply: C = A x B on 192 x 192 matrices of 32-bit integers
 * (i-k-j loop order), one product per work unit, the result fed back as the
 * next A. Exercises multiplies, adds and strided array access. (Floating
 * point is the fpu workload's job.) */
#include "common.h"

#define D 192

static uint32_t A[D][D], B[D][D], C[D][D];

int main(int argc, char **argv)
{
    long units = bench_units(argc, argv, 66, 1000);
    uint32_t seed = 0xA11CEu;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            A[i][j] = bench_rng(&seed) & 0xFF;
            B[i][j] = bench_rng(&seed) & 0xFF;
        }
    bench_start("matmul");
    for (long u = 0; u < units; u++) {
        memset(C, 0, sizeof(C));
        for (int i = 0; i < D; i++)
            for (int k = 0; k < D; k++) {
                uint32_t a = A[i][k];
                for (int j = 0; j < D; j++)
                    C[i][j] += a * B[k][j];
            }
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                A[i][j] = C[i][j] & 0xFF;
    }
    bench_end("matmul", bench_fnv(BENCH_FNV_INIT, C, sizeof(C)));
    return 0;
}
