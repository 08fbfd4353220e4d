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
