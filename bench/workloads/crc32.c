/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), byte-at-a-time
 * table lookup over a 1 MiB buffer per work unit. Exercises loads, shifts and
 * xors in a tight loop. */
#include "common.h"

#define LEN (1024 * 1024)

static uint32_t table[256];
static unsigned char buf[LEN];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

int main(int argc, char **argv)
{
    long units = bench_units(argc, argv, 95, 1400);
    uint32_t seed = 0xC0FFEEu, crc = 0;
    make_table();
    /* Known answer: CRC-32 of "123456789" is cbf43926. */
    if (crc32(0, (const unsigned char *)"123456789", 9) != 0xCBF43926u) {
        printf("crc32: self-test failed\n");
        return 1;
    }
    for (long i = 0; i < LEN; i++)
        buf[i] = (unsigned char)bench_rng(&seed);
    bench_start("crc32");
    for (long u = 0; u < units; u++) {
        crc = crc32(crc, buf, LEN);
        buf[u % LEN] ^= (unsigned char)crc;
    }
    bench_end("crc32", crc);
    return 0;
}
