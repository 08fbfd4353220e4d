//! x87 programs on an engine: loads, arithmetic, stores in every integer
//! and real format, compares branching through FNSTSW/SAHF, the control
//! word's rounding, and an unmasked exception reported as #MF at the next
//! waiting instruction. The translator runs x87 instructions as callouts,
//! so these check the callout path (state spilled and reloaded, faults
//! delivered exactly) rather than the soft-float model, which the x87
//! oracle tests directly.
//!
//! Leaves out: transcendental instructions' precision (the oracle's job).

use cpu_interp::harness::*;
use cpu_interp::state::*;
use cpu_interp::Stop;
use iced_x86::code_asm::*;

use super::sys_harness::Sys;
use super::Eng;

/// Runs 32-bit code (HLT appended) and returns the machine.
fn run32(e: Eng, f: impl FnOnce(&mut CodeAssembler)) -> TestMachine {
    let code = asm32(CODE_BASE as u64, |a| {
        f(a);
        a.hlt().unwrap();
    });
    let mut m = e.flat32(&code);
    assert_eq!(m.run(), Stop::Halted);
    m
}

/// Sum of i*i for i in 1..=100 with FILD/FMUL/FADD in a loop, stored
/// with FISTP (dword) and FSTP (qword), and as BCD with FBSTP.
pub fn x87_integer_loop(e: Eng) {
    const D: u32 = DATA_BASE;
    let mut m = run32(e, |a| {
        let mut top = a.create_label();
        a.fninit().unwrap();
        a.fldz().unwrap();
        a.mov(ecx, 100u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(dword_ptr(D), ecx).unwrap();
        a.fild(dword_ptr(D)).unwrap();
        a.fmul_2(st0, st0).unwrap();
        a.faddp(st1, st0).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.fld(st0).unwrap();
        a.fld(st0).unwrap();
        a.fistp(dword_ptr(D + 4)).unwrap();
        a.fstp(qword_ptr(D + 8)).unwrap();
        a.fbstp(tword_ptr(D + 16)).unwrap();
    });
    assert_eq!(m.mem32(D + 4), 338_350);
    let lo = m.mem32(D + 8) as u64 | (m.mem32(D + 12) as u64) << 32;
    assert_eq!(f64::from_bits(lo), 338_350.0);
    assert_eq!(m.mem32(D + 16), 0x0033_8350, "packed BCD");
    assert_eq!(m.s.fpu.top(), 0, "stack empty again");
}

/// 1/3 stored as a double and a single, sqrt(2) scaled and rounded to an
/// integer under each rounding mode of the control word.
pub fn x87_division_sqrt_and_rounding(e: Eng) {
    const D: u32 = DATA_BASE;
    let mut m = run32(e, |a| {
        a.fninit().unwrap();
        a.fld1().unwrap();
        a.mov(dword_ptr(D), 3u32).unwrap();
        a.fidiv(dword_ptr(D)).unwrap();
        a.fst(qword_ptr(D + 8)).unwrap();
        a.fstp(dword_ptr(D + 16)).unwrap();
        // sqrt(2) * 1e6 = 1414213.56..: nearest, down, up, chop.
        a.mov(dword_ptr(D + 20), 1_000_000u32).unwrap();
        for (i, rc) in [0u32, 1, 2, 3].iter().enumerate() {
            a.mov(word_ptr(D + 24), 0x037F | (rc << 10)).unwrap();
            a.fldcw(word_ptr(D + 24)).unwrap();
            a.fld1().unwrap();
            a.fadd_2(st0, st0).unwrap();
            a.fsqrt().unwrap();
            a.fimul(dword_ptr(D + 20)).unwrap();
            a.fchs().unwrap();
            a.fistp(dword_ptr(D + 32 + 4 * i as u32)).unwrap();
        }
        a.fnstcw(word_ptr(D + 48)).unwrap();
    });
    let lo = m.mem32(D + 8) as u64 | (m.mem32(D + 12) as u64) << 32;
    assert_eq!(f64::from_bits(lo), 1.0 / 3.0);
    assert_eq!(f32::from_bits(m.mem32(D + 16)), 1.0f32 / 3.0);
    let got: Vec<i32> = (0..4).map(|i| m.mem32(D + 32 + 4 * i) as i32).collect();
    // -1414213.56: nearest, down (toward -inf), up, toward zero.
    assert_eq!(got, [-1_414_214, -1_414_214, -1_414_213, -1_414_213]);
    assert_eq!(m.mem32(D + 48) & 0xFFFF, 0x0F7F, "last control word");
}

/// FCOM/FCOMP/FUCOMPP set C0/C2/C3, FNSTSW AX + SAHF turn them into
/// flags for JA/JB/JE/JP; FCOMI sets the flags directly.
pub fn x87_compares_drive_branches(e: Eng) {
    const D: u32 = DATA_BASE;
    let mut m = run32(e, |a| {
        let cases: [(u32, u32); 3] = [(1, 2), (5, 3), (4, 4)];
        a.fninit().unwrap();
        a.xor(ebx, ebx).unwrap();
        for (i, (x, y)) in cases.iter().enumerate() {
            let (mut below, mut done) = (a.create_label(), a.create_label());
            a.mov(dword_ptr(D), *y).unwrap();
            a.mov(dword_ptr(D + 4), *x).unwrap();
            a.fild(dword_ptr(D)).unwrap();
            a.fild(dword_ptr(D + 4)).unwrap();
            a.fcompp().unwrap(); // compare x (st0) with y
            a.fnstsw(ax).unwrap();
            a.sahf().unwrap();
            a.jb(below).unwrap();
            a.mov(dword_ptr(D + 16 + 4 * i as u32), eax).unwrap();
            a.jmp(done).unwrap();
            a.set_label(&mut below).unwrap();
            a.or(ebx, 1 << i).unwrap();
            a.set_label(&mut done).unwrap();
        }
        // NaN: unordered, PF set by FUCOMI.
        a.fldz().unwrap();
        a.fldz().unwrap();
        a.fdiv_2(st0, st1).unwrap(); // 0/0 = default NaN (invalid masked)
        a.fldz().unwrap();
        a.fucomip(st0, st1).unwrap();
        a.setp(cl).unwrap();
        a.fld1().unwrap();
        a.fldz().unwrap();
        a.fcomip(st0, st1).unwrap(); // 0 < 1: CF
        a.setb(dl).unwrap();
    });
    assert_eq!(m.s.regs[EBX], 0b001, "only 1 < 2 branches to `below`");
    let c3 = 1 << 14;
    assert_eq!(m.mem32(DATA_BASE + 20) & 0x4500, 0, "5 > 3: C3=C2=C0=0");
    assert_eq!(m.mem32(DATA_BASE + 24) & 0x4500, c3, "4 == 4: C3");
    assert_eq!(m.s.regs[ECX] & 0xFF, 1, "NaN compares unordered");
    assert_eq!(m.s.regs[EDX] & 0xFF, 1, "0 < 1");
}

/// An unmasked zero divide is pending after FDIV and raised as #MF (with
/// CR0.NE) by the next waiting x87 instruction, whose address is pushed;
/// the instruction between them runs.
pub fn x87_unmasked_exception_is_mf_at_next_wait(e: Eng) {
    const D: u32 = DATA_BASE;
    let code = asm32(CODE_BASE as u64, |a| {
        a.fninit().unwrap();
        a.mov(word_ptr(D), 0x037Bu32).unwrap(); // ZM clear
        a.fldcw(word_ptr(D)).unwrap();
        a.fld1().unwrap();
        a.fldz().unwrap();
        a.fdivp(st1, st0).unwrap(); // 1/0: pending #Z
        a.mov(ebx, 0x1234u32).unwrap();
        a.wait().unwrap(); // #MF here
        a.mov(ebx, 0xDEADu32).unwrap();
        a.hlt().unwrap();
    });
    let fwait_at = CODE_BASE as usize + code.iter().rposition(|&b| b == 0x9B).unwrap();
    let mut s = Sys::new(e, &code);
    s.m.s.cr0 |= cr0::NE | cr0::ET;
    assert_eq!(s.run(), Stop::Halted);
    let (vector, err, eip, _) = s.fault();
    assert_eq!(vector, 16, "#MF");
    assert_eq!(err, 0xEEEE_EEEE, "no error code");
    assert_eq!(eip as usize, fwait_at, "reported at the FWAIT");
    assert_eq!(s.m.s.regs[EBX], 0x1234);
    assert_ne!(s.m.s.fpu.status & 0x84, 0, "ZE and ES set");
}
