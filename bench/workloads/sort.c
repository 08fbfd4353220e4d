/* Integer sort: quicksort (median of three, insertion sort below 16
 * elements) of 256 Ki pseudo-random 32-bit keys per work unit. Exercises
 * compares, branches and memory traffic. */
#include "common.h"

#define N (256 * 1024)

static uint32_t keys[N];

static void insertion(uint32_t *a, long n)
{
    for (long i = 1; i < n; i++) {
        uint32_t v = a[i];
        long j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void swap(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void quicksort(uint32_t *a, long n)
{
    while (n > 16) {
        long mid = n / 2;
        if (a[mid] < a[0])
            swap(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap(&a[n - 1], &a[mid]);
        uint32_t pivot = a[mid];
        long i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap(&a[i], &a[j]);
            i++;
            j--;
        }
        /* Recurse into the smaller half, loop on the larger. */
        if (j + 1 < n - j - 1) {
            quicksort(a, j + 1);
            a += j + 1;
            n -= j + 1;
        } else {
            quicksort(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    insertion(a, n);
}

int main(int argc, char **argv)
{
    long units = bench_units(argc, argv, 12, 180);
    uint32_t seed = 0x12345678u, sum = BENCH_FNV_INIT;
    bench_start("sort");
    for (long u = 0; u < units; u++) {
        for (long i = 0; i < N; i++)
            keys[i] = bench_rng(&seed);
        quicksort(keys, N);
        for (long i = 1; i < N; i++) {
            if (keys[i - 1] > keys[i]) {
                printf("sort: not sorted at %ld\n", i);
                return 1;
            }
        }
        sum = bench_fnv(sum, keys, sizeof(keys));
    }
    bench_end("sort", sum);
    return 0;
}
