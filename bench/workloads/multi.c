/*
 * oxpc-bench: one static i386 binary holding every workload, so that the
 * guest image carries one copy of the C library instead of seven. Each
 * workload source is still a complete program (built here with
 * -Dmain=oxpc_<name>_main). Run as `oxpc-<name> SIZE` (a symlink) or as
 * `oxpc-bench <name> SIZE`.
 */
#include <stdio.h>
#include <string.h>

int oxpc_sort_main(int argc, char **argv);
int oxpc_crc32_main(int argc, char **argv);
int oxpc_sha256_main(int argc, char **argv);
int oxpc_matmul_main(int argc, char **argv);
int oxpc_bytecode_main(int argc, char **argv);
int oxpc_strsearch_main(int argc, char **argv);
int oxpc_fpu_main(int argc, char **argv);

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} workloads[] = {
    {"sort", oxpc_sort_main},         {"crc32", oxpc_crc32_main},
    {"sha256", oxpc_sha256_main},     {"matmul", oxpc_matmul_main},
    {"bytecode", oxpc_bytecode_main}, {"strsearch", oxpc_strsearch_main},
    {"fpu", oxpc_fpu_main},
};

int main(int argc, char **argv)
{
    const char *self = argc > 0 ? argv[0] : "oxpc-bench";
    const char *slash = strrchr(self, '/');
    const char *name = slash ? slash + 1 : self;
    if (strncmp(name, "oxpc-", 5) == 0)
        name += 5;
    if (strcmp(name, "bench") == 0) {
        if (argc < 2) {
            fprintf(stderr, "usage: oxpc-bench WORKLOAD [quick|full|UNITS]\nworkloads:");
            for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
                fprintf(stderr, " %s", workloads[i].name);
            fprintf(stderr, "\n");
            return 2;
        }
        name = argv[1];
        argc--;
        argv++;
    }
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
        if (strcmp(name, workloads[i].name) == 0)
            return workloads[i].run(argc, argv);
    fprintf(stderr, "oxpc-bench: unknown workload %s\n", name);
    return 2;
}
