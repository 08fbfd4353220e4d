//! Running one instruction on the host's x87. Every form uses the same
//! frame: FNINIT, FLDCW with the control word under test, load st(1) = b
//! and st(0) = a from memory, the instruction (which may use the memory
//! operand `{m}`), then FNSTSW and the flags, FNCLEX (so that a pending
//! unmasked exception never reaches a waiting instruction), an all-masked
//! control word, three FSTPs of st(0)..st(2) and a final FNINIT that leaves
//! the x87 as the Rust ABI expects it (empty, control word 0x037F).

use super::{Input, Outcome};
use cpu_interp::x87::F80;

macro_rules! host_form {
    ($name:ident, $insn:literal) => {
        pub fn $name(inp: &Input) -> Outcome {
            let a = inp.a.to_bytes();
            let b = inp.b.to_bytes();
            let mut mem = inp.mem;
            let mut out = [0u8; 30];
            let mut sw: u16 = 0;
            let fl: u64;
            let cw = inp.cw;
            let masked: u16 = 0x037F;
            // SAFETY: the block only touches the x87 (declared clobbered and
            // left empty by FNINIT) and the local buffers passed by pointer,
            // each large enough for the accesses the instruction text makes
            // (mem: 10 bytes, out: 3 x 10 bytes, sw: 2 bytes).
            unsafe {
                core::arch::asm!(
                    "fninit",
                    "fldcw word ptr [{cw}]",
                    "fld tbyte ptr [{b}]",
                    "fld tbyte ptr [{a}]",
                    $insn,
                    "fnstsw word ptr [{sw}]",
                    "/* {m} */",
                    "pushfq",
                    "pop {fl}",
                    "fnclex",
                    "fldcw word ptr [{masked}]",
                    "fstp tbyte ptr [{o}]",
                    "fstp tbyte ptr [{o} + 10]",
                    "fstp tbyte ptr [{o} + 20]",
                    "fninit",
                    cw = in(reg) &cw,
                    masked = in(reg) &masked,
                    a = in(reg) a.as_ptr(),
                    b = in(reg) b.as_ptr(),
                    m = in(reg) mem.as_mut_ptr(),
                    o = in(reg) out.as_mut_ptr(),
                    sw = in(reg) &mut sw,
                    fl = out(reg) fl,
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                );
            }
            let st = |i: usize| {
                let mut b = [0u8; 10];
                b.copy_from_slice(&out[i * 10..i * 10 + 10]);
                F80::from_bytes(b)
            };
            Outcome {
                sw: sw & super::SW_MASK,
                st: [st(0), st(1), st(2)],
                mem,
                eflags: (fl & 0x45) as u8,
            }
        }
    };
}

host_form!(fadd, "fadd st(0), st(1)");
host_form!(fsub, "fsub st(0), st(1)");
host_form!(fsubr, "fsubr st(0), st(1)");
host_form!(fmul, "fmul st(0), st(1)");
host_form!(fdiv, "fdiv st(0), st(1)");
host_form!(fdivr, "fdivr st(0), st(1)");
host_form!(faddp, "faddp st(1), st(0)");
host_form!(fsqrt, "fsqrt");
host_form!(frndint, "frndint");
host_form!(fscale, "fscale");
host_form!(fxtract, "fxtract");
host_form!(fprem, "fprem");
host_form!(fprem1, "fprem1");
host_form!(fcom, "fcom st(1)");
host_form!(fcompp, "fcompp");
host_form!(fucom, "fucom st(1)");
host_form!(fcomi, "fcomi st(0), st(1)");
host_form!(fucomip, "fucomip st(0), st(1)");
host_form!(ftst, "ftst");
host_form!(fxam, "fxam");
host_form!(fabs, "fabs");
host_form!(fchs, "fchs");
host_form!(fxch, "fxch st(1)");
host_form!(fld_m32, "fld dword ptr [{m}]");
host_form!(fld_m64, "fld qword ptr [{m}]");
host_form!(fst_m32, "fst dword ptr [{m}]");
host_form!(fst_m64, "fst qword ptr [{m}]");
host_form!(fstp_m32, "fstp dword ptr [{m}]");
host_form!(fstp_m64, "fstp qword ptr [{m}]");
host_form!(fild_m16, "fild word ptr [{m}]");
host_form!(fild_m32, "fild dword ptr [{m}]");
host_form!(fild_m64, "fild qword ptr [{m}]");
host_form!(fist_m16, "fist word ptr [{m}]");
host_form!(fist_m32, "fist dword ptr [{m}]");
host_form!(fistp_m64, "fistp qword ptr [{m}]");
host_form!(fbld, "fbld tbyte ptr [{m}]");
host_form!(fbstp, "fbstp tbyte ptr [{m}]");
host_form!(fadd_m32, "fadd dword ptr [{m}]");
host_form!(fldpi, "fldpi");
host_form!(fldl2t, "fldl2t");
host_form!(fldl2e, "fldl2e");
host_form!(fldlg2, "fldlg2");
host_form!(fldln2, "fldln2");
host_form!(fsin, "fsin");
host_form!(fcos, "fcos");
host_form!(fsincos, "fsincos");
host_form!(fptan, "fptan");
host_form!(fpatan, "fpatan");
host_form!(f2xm1, "f2xm1");
host_form!(fyl2x, "fyl2x");
host_form!(fyl2xp1, "fyl2xp1");

/// An MMX form: mm0 = a.sig, mm1 = b.sig, the instruction, mm0 stored to
/// the first 8 bytes of the memory operand, EMMS.
macro_rules! host_mmx {
    ($name:ident, $insn:literal) => {
        pub fn $name(inp: &Input) -> Outcome {
            let a = inp.a.sig;
            let b = inp.b.sig;
            let mut mem = inp.mem;
            // SAFETY: only the MMX/x87 registers (declared clobbered, left
            // empty by EMMS + FNINIT) and the local buffers are touched; `mem`
            // has room for the 8-byte store.
            unsafe {
                core::arch::asm!(
                    "fninit",
                    "movq mm0, qword ptr [{a}]",
                    "movq mm1, qword ptr [{b}]",
                    $insn,
                    "movq qword ptr [{m}], mm0",
                    "emms",
                    "fninit",
                    a = in(reg) &a,
                    b = in(reg) &b,
                    m = in(reg) mem.as_mut_ptr(),
                    out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                    out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                );
            }
            Outcome { sw: 0, st: [F80::INDEFINITE; 3], mem, eflags: 0 }
        }
    };
}

host_mmx!(paddb, "paddb mm0, mm1");
host_mmx!(paddw, "paddw mm0, mm1");
host_mmx!(paddd, "paddd mm0, mm1");
host_mmx!(paddsb, "paddsb mm0, mm1");
host_mmx!(paddsw, "paddsw mm0, mm1");
host_mmx!(paddusb, "paddusb mm0, mm1");
host_mmx!(paddusw, "paddusw mm0, mm1");
host_mmx!(psubb, "psubb mm0, mm1");
host_mmx!(psubw, "psubw mm0, mm1");
host_mmx!(psubd, "psubd mm0, mm1");
host_mmx!(psubsb, "psubsb mm0, mm1");
host_mmx!(psubsw, "psubsw mm0, mm1");
host_mmx!(psubusb, "psubusb mm0, mm1");
host_mmx!(psubusw, "psubusw mm0, mm1");
host_mmx!(pcmpeqb, "pcmpeqb mm0, mm1");
host_mmx!(pcmpeqw, "pcmpeqw mm0, mm1");
host_mmx!(pcmpeqd, "pcmpeqd mm0, mm1");
host_mmx!(pcmpgtb, "pcmpgtb mm0, mm1");
host_mmx!(pcmpgtw, "pcmpgtw mm0, mm1");
host_mmx!(pcmpgtd, "pcmpgtd mm0, mm1");
host_mmx!(pmullw, "pmullw mm0, mm1");
host_mmx!(pmulhw, "pmulhw mm0, mm1");
host_mmx!(pmaddwd, "pmaddwd mm0, mm1");
host_mmx!(pand, "pand mm0, mm1");
host_mmx!(pandn, "pandn mm0, mm1");
host_mmx!(por, "por mm0, mm1");
host_mmx!(pxor, "pxor mm0, mm1");
host_mmx!(packsswb, "packsswb mm0, mm1");
host_mmx!(packssdw, "packssdw mm0, mm1");
host_mmx!(packuswb, "packuswb mm0, mm1");
host_mmx!(punpcklbw, "punpcklbw mm0, mm1");
host_mmx!(punpcklwd, "punpcklwd mm0, mm1");
host_mmx!(punpckldq, "punpckldq mm0, mm1");
host_mmx!(punpckhbw, "punpckhbw mm0, mm1");
host_mmx!(punpckhwd, "punpckhwd mm0, mm1");
host_mmx!(punpckhdq, "punpckhdq mm0, mm1");
host_mmx!(psllw, "psllw mm0, mm1");
host_mmx!(pslld, "pslld mm0, mm1");
host_mmx!(psllq, "psllq mm0, mm1");
host_mmx!(psrlw, "psrlw mm0, mm1");
host_mmx!(psrld, "psrld mm0, mm1");
host_mmx!(psrlq, "psrlq mm0, mm1");
host_mmx!(psraw, "psraw mm0, mm1");
host_mmx!(psrad, "psrad mm0, mm1");
host_mmx!(psraw_imm, "psraw mm0, 5");
host_mmx!(psllq_imm, "psllq mm0, 37");
