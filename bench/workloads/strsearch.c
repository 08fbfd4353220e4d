/* String search: counts the occurrences of eight words in 2 MiB of generated
 * text with Boyer-Moore-Horspool, and of one of them with a naive scan, per
 * work unit. Exercises byte loads, compares and data-dependent branches. */
#include "common.h"

#define LEN (2 * 1024 * 1024)

static char text[LEN + 1];

static const char *const words[] = {
    "emulator", "register", "segment", "interrupt", "paging", "cache",
    "opcode", "prefix", "descriptor", "gate", "selector", "the", "a", "of",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const patterns[8] = {
    "interrupt gate", "the cache", "opcode prefix", "segment selector",
    "paging", "descriptor of", "a register", "emulator",
};

static long horspool(const char *hay, long n, const char *pat)
{
    long m = (long)strlen(pat), count = 0;
    long shift[256];
    for (int i = 0; i < 256; i++)
        shift[i] = m;
    for (long i = 0; i < m - 1; i++)
        shift[(unsigned char)pat[i]] = m - 1 - i;
    long pos = 0;
    while (pos + m <= n) {
        long j = m - 1;
        while (j >= 0 && hay[pos + j] == pat[j])
            j--;
        if (j < 0)
            count++;
        pos += shift[(unsigned char)hay[pos + m - 1]];
    }
    return count;
}

static long naive(const char *hay, long n, const char *pat)
{
    long m = (long)strlen(pat), count = 0;
    for (long i = 0; i + m <= n; i++) {
        long j = 0;
        while (j < m && hay[i + j] == pat[j])
            j++;
        if (j == m)
            count++;
    }
    return count;
}

int main(int argc, char **argv)
{
    long units = bench_units(argc, argv, 15, 225);
    uint32_t seed = 0x7E57u;
    long len = 0;
    while (len < LEN) {
        const char *w = words[bench_rng(&seed) % NWORDS];
        long wl = (long)strlen(w);
        if (len + wl + 1 > LEN)
            break;
        memcpy(text + len, w, (size_t)wl);
        len += wl;
        text[len++] = ' ';
    }
    if (horspool("abcabcab", 8, "cab") != 2 || naive("aaaa", 4, "aa") != 3) {
        printf("strsearch: self-test failed\n");
        return 1;
    }
    uint32_t sum = BENCH_FNV_INIT;
    bench_start("strsearch");
    for (long u = 0; u < units; u++) {
        for (int p = 0; p < 8; p++) {
            long c = horspool(text, len, patterns[p]);
            sum = bench_fnv(sum, &c, sizeof(c));
        }
        long c = naive(text, len, patterns[u % 8]);
        sum = bench_fnv(sum, &c, sizeof(c));
    }
    bench_end("strsearch", sum);
    return 0;
}
