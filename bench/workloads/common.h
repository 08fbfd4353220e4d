/*
 * Shared helpers of oxpc's native benchmark workloads (bench/workloads/).
 *
 * Every workload is one static i386 program that takes a size argument
 * ("quick", "full" or a number of work units), prints
 *   OXPC-BENCH-START <name>
 * before the timed work and
 *   OXPC-BENCH-END <name> <checksum>
 * after it, flushing stdout so that a harness reading the serial console can
 * time the work between the two lines. The checksum depends only on the size,
 * so a run under an emulator must print the same checksum as a native run.
 * Not modelled: timing inside the program (the harness uses the host clock).
 */
#ifndef OXPC_BENCH_COMMON_H
#define OXPC_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses argv[1]: "quick" (the default), "full", or a positive unit count. */
static inline long bench_units(int argc, char **argv, long quick, long full)
{
    if (argc < 2 || strcmp(argv[1], "quick") == 0)
        return quick;
    if (strcmp(argv[1], "full") == 0)
        return full;
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end != '\0' || n <= 0 || n > 1000000) {
        fprintf(stderr, "usage: %s [quick|full|UNITS]\n", argv[0]);
        exit(2);
    }
    return n;
}

static inline void bench_start(const char *name)
{
    printf("OXPC-BENCH-START %s\n", name);
    fflush(stdout);
}

static inline void bench_end(const char *name, uint32_t checksum)
{
    printf("OXPC-BENCH-END %s %08x\n", name, (unsigned)checksum);
    fflush(stdout);
}

/* xorshift32: a small deterministic generator for test data. */
static inline uint32_t bench_rng(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* FNV-1a over bytes, for folding results into a checksum. */
static inline uint32_t bench_fnv(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

#define BENCH_FNV_INIT 2166136261u

#endif
