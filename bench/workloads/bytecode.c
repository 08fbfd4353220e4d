/* Bytecode interpreter: a small stack machine with switch dispatch runs a
 * program that sums the Collatz step counts of 1..19999, once per work unit.
 * Exercises the indirect branch of the dispatch loop, the kind of code that
 * stresses an emulator's handling of unpredictable jumps. */
#include "common.h"

enum op { PUSH, LOAD, STORE, ADD, MUL, SHR1, AND1, LT, NE, JZ, JMP, INC, HALT };

static int32_t prog[256];
static int plen;

static int emit(int32_t v)
{
    prog[plen] = v;
    return plen++;
}

/* Variables: 0 = i, 1 = limit, 2 = x, 4 = total steps. */
static void assemble(void)
{
    emit(PUSH), emit(1), emit(STORE), emit(0);
    int l1 = plen;
    emit(LOAD), emit(0), emit(LOAD), emit(1), emit(LT), emit(JZ);
    int to_end = emit(0);
    emit(LOAD), emit(0), emit(STORE), emit(2);
    int l2 = plen;
    emit(LOAD), emit(2), emit(PUSH), emit(1), emit(NE), emit(JZ);
    int to_l3 = emit(0);
    emit(LOAD), emit(2), emit(AND1), emit(JZ);
    int to_even = emit(0);
    emit(LOAD), emit(2), emit(PUSH), emit(3), emit(MUL), emit(PUSH), emit(1), emit(ADD);
    emit(STORE), emit(2), emit(JMP);
    int to_cnt = emit(0);
    prog[to_even] = plen;
    emit(LOAD), emit(2), emit(SHR1), emit(STORE), emit(2);
    prog[to_cnt] = plen;
    emit(INC), emit(4), emit(JMP), emit(l2);
    prog[to_l3] = plen;
    emit(INC), emit(0), emit(JMP), emit(l1);
    prog[to_end] = plen;
    emit(HALT);
}

static uint32_t run(uint32_t limit)
{
    uint32_t vars[8] = {0};
    uint32_t stack[16];
    int sp = 0, pc = 0;
    vars[1] = limit;
    for (;;) {
        int32_t op = prog[pc++];
        switch (op) {
        case PUSH: stack[sp++] = (uint32_t)prog[pc++]; break;
        case LOAD: stack[sp++] = vars[prog[pc++]]; break;
        case STORE: vars[prog[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case SHR1: stack[sp - 1] >>= 1; break;
        case AND1: stack[sp - 1] &= 1; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case NE: sp--; stack[sp - 1] = stack[sp - 1] != stack[sp]; break;
        case JZ: if (stack[--sp] == 0) pc = prog[pc]; else pc++; break;
        case JMP: pc = prog[pc]; break;
        case INC: vars[prog[pc++]]++; break;
        case HALT: return vars[4];
        default: printf("bytecode: bad op %d\n", (int)op); exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    long units = bench_units(argc, argv, 6, 85);
    assemble();
    /* Known answer: 1..9 take 0+1+7+2+5+8+16+3+19 = 61 steps. */
    if (run(10) != 61) {
        printf("bytecode: self-test failed\n");
        return 1;
    }
    uint32_t sum = BENCH_FNV_INIT;
    bench_start("bytecode");
    for (long u = 0; u < units; u++) {
        uint32_t steps = run(20000);
        sum = bench_fnv(sum, &steps, sizeof(steps));
    }
    bench_end("bytecode", sum);
    return 0;
}
