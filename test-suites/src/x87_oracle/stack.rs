//! The instruction-level half of the x87 oracle: random register-only x87
//! instructions run on a random machine state (register contents, tags,
//! TOP, condition codes, rounding and precision control, exception masks),
//! on the host (FRSTOR, the instruction as raw bytes, FNSAVE) and
//! through the interpreter's own handlers (`cpu_interp::dispatch`), then the
//! whole saved image (control, status incl. TOP, tag word, the eight
//! registers) and, for FCOMI forms, ZF/PF/CF are compared. This checks the
//! stack plumbing: pushes, pops, underflow/overflow responses, FXCH/FFREE,
//! popping compares.

use super::gen::{f80, Rng};
use cpu_interp::harness::TestMachine;
use cpu_interp::x87::ins_ctrl::{env_image, load_env_image};
use cpu_interp::x87::{FpuState, F80};

/// One instruction: its bytes, the host runner (image, 32-byte memory
/// operand addressed by [rax] / [eax], EFLAGS in; EFLAGS out), and whether
/// EFLAGS matter.
pub struct Step {
    pub name: &'static str,
    pub bytes: &'static [u8],
    pub host: fn(&mut [u8; 108], &mut [u8; 32], u64) -> u64,
    pub eflags: bool,
}

macro_rules! steps {
    ($( $name:ident = [$b0:literal, $b1:literal], $fl:expr; )*) => {
        $(
            fn $name(img: &mut [u8; 108], mem: &mut [u8; 32], fl_in: u64) -> u64 {
                let fl: u64;
                // SAFETY: FRSTOR/FNSAVE touch exactly the 108-byte image and
                // the instruction at most the 32 bytes at [rax]; the x87 is
                // declared clobbered and left initialised by FNINIT. Loaded
                // images never hold a pending unmasked exception and FNSAVE
                // does not wait, so nothing traps.
                unsafe {
                    core::arch::asm!(
                        "push {fin}",
                        "popfq",
                        "frstor [{i}]",
                        concat!(".byte ", $b0, ", ", $b1),
                        "pushfq",
                        "pop {f}",
                        "fnsave [{i}]",
                        "fninit",
                        i = in(reg) img.as_mut_ptr(),
                        f = out(reg) fl,
                        fin = in(reg) fl_in,
                        in("rax") mem.as_mut_ptr(),
                        out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                        out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                    );
                }
                fl
            }
        )*
        /// Every step kind.
        pub fn steps() -> Vec<Step> {
            vec![$( Step { name: stringify!($name), bytes: &[$b0, $b1], host: $name, eflags: $fl }, )*]
        }
    };
}

steps! {
    fld1 = [0xD9, 0xE8], false;
    fldz = [0xD9, 0xEE], false;
    fldpi = [0xD9, 0xEB], false;
    fld_st3 = [0xD9, 0xC3], false;
    fst_st2 = [0xDD, 0xD2], false;
    fstp_st1 = [0xDD, 0xD9], false;
    fstp_st3 = [0xDD, 0xDB], false;
    fxch_st1 = [0xD9, 0xC9], false;
    fxch_st4 = [0xD9, 0xCC], false;
    fadd_st0_st2 = [0xD8, 0xC2], false;
    fadd_st3_st0 = [0xDC, 0xC3], false;
    faddp_st2 = [0xDE, 0xC2], false;
    fsub_st0_st1 = [0xD8, 0xE1], false;
    fsub_st2_st0 = [0xDC, 0xEA], false;
    fsubr_st2_st0 = [0xDC, 0xE2], false;
    fsubp_st1 = [0xDE, 0xE9], false;
    fsubrp_st3 = [0xDE, 0xE3], false;
    fmul_st0_st3 = [0xD8, 0xCB], false;
    fmulp_st1 = [0xDE, 0xC9], false;
    fdiv_st0_st2 = [0xD8, 0xF2], false;
    fdivr_st0_st1 = [0xD8, 0xF9], false;
    fdiv_st1_st0 = [0xDC, 0xF9], false;
    fdivp_st3 = [0xDE, 0xFB], false;
    fdivrp_st1 = [0xDE, 0xF1], false;
    fcom_st2 = [0xD8, 0xD2], false;
    fcomp_st1 = [0xD8, 0xD9], false;
    fcompp = [0xDE, 0xD9], false;
    fucom_st3 = [0xDD, 0xE3], false;
    fucomp_st1 = [0xDD, 0xE9], false;
    fucompp = [0xDA, 0xE9], false;
    fcomi_st1 = [0xDB, 0xF1], true;
    fcomip_st2 = [0xDF, 0xF2], true;
    fucomi_st3 = [0xDB, 0xEB], true;
    fucomip_st1 = [0xDF, 0xE9], true;
    ftst = [0xD9, 0xE4], false;
    fxam = [0xD9, 0xE5], false;
    fabs = [0xD9, 0xE1], false;
    fchs = [0xD9, 0xE0], false;
    fsqrt = [0xD9, 0xFA], false;
    frndint = [0xD9, 0xFC], false;
    fscale = [0xD9, 0xFD], false;
    fxtract = [0xD9, 0xF4], false;
    fprem = [0xD9, 0xF8], false;
    fprem1 = [0xD9, 0xF5], false;
    fincstp = [0xD9, 0xF7], false;
    fdecstp = [0xD9, 0xF6], false;
    ffree_st2 = [0xDD, 0xC2], false;
    ffreep_st1 = [0xDF, 0xC1], false;
    fnop = [0xD9, 0xD0], false;
    fnclex = [0xDB, 0xE2], false;
    fld_m32 = [0xD9, 0x00], false;
    fld_m64 = [0xDD, 0x00], false;
    fld_m80 = [0xDB, 0x28], false;
    fild_m16 = [0xDF, 0x00], false;
    fild_m32 = [0xDB, 0x00], false;
    fild_m64 = [0xDF, 0x28], false;
    fbld = [0xDF, 0x20], false;
    fst_m32 = [0xD9, 0x10], false;
    fstp_m64 = [0xDD, 0x18], false;
    fstp_m80 = [0xDB, 0x38], false;
    fist_m16 = [0xDF, 0x10], false;
    fistp_m32 = [0xDB, 0x18], false;
    fistp_m64 = [0xDF, 0x38], false;
    fbstp = [0xDF, 0x30], false;
    fadd_m32 = [0xD8, 0x00], false;
    fmul_m64 = [0xDC, 0x08], false;
    fsubr_m32 = [0xD8, 0x28], false;
    fdiv_m64 = [0xDC, 0x30], false;
    fcom_m32 = [0xD8, 0x10], false;
    fcomp_m64 = [0xDC, 0x18], false;
    fiadd_m16 = [0xDE, 0x00], false;
    fidiv_m16 = [0xDE, 0x30], false;
    fisubr_m32 = [0xDA, 0x28], false;
    ficom_m16 = [0xDE, 0x10], false;
    ficomp_m32 = [0xDA, 0x18], false;
    fnstsw_m = [0xDD, 0x38], false;
    fnstcw_m = [0xD9, 0x38], false;
    fldcw_m = [0xD9, 0x28], false;
    fldenv_m = [0xD9, 0x20], false;
    fcmovb = [0xDA, 0xC1], false;
    fcmove = [0xDA, 0xCA], false;
    fcmovbe = [0xDA, 0xD3], false;
    fcmovu = [0xDA, 0xDC], false;
    fcmovnb = [0xDB, 0xC5], false;
    fcmovne = [0xDB, 0xC9], false;
    fcmovnbe = [0xDB, 0xD2], false;
    fcmovnu = [0xDB, 0xDB], false;
}

/// A memory operand: an extended value, a double, a single, small or
/// huge integers, or BCD digits.
fn random_mem(r: &mut Rng) -> [u8; 32] {
    let mut m = [0u8; 32];
    for b in m.iter_mut() {
        *b = r.next() as u8;
    }
    match r.below(5) {
        0 => m[..10].copy_from_slice(&f80(r).to_bytes()),
        1 => m[..8].copy_from_slice(&f80(r).to_f64_lossy().to_bits().to_le_bytes()),
        2 => m[..4].copy_from_slice(&(f80(r).to_f64_lossy() as f32).to_bits().to_le_bytes()),
        3 => m[..8].copy_from_slice(&((r.next() as i64) >> r.below(64)).to_le_bytes()),
        4 if r.chance(1, 2) => {
            // An environment image or a control word for FLDENV/FLDCW.
            let f = FpuState {
                control: r.next() as u16,
                status: r.next() as u16,
                tag: r.next() as u16,
                ..Default::default()
            };
            let img = image(&f);
            m[..28].copy_from_slice(&img[..28]);
            m[8..10].copy_from_slice(&f.tag.to_le_bytes());
        }
        _ => {
            for b in m[..9].iter_mut() {
                *b = ((r.below(10) as u8) << 4) | r.below(10) as u8;
            }
        }
    }
    m
}

/// A random FNSAVE image; a quarter of them unmask some exceptions (with
/// no unmasked flag already set, so nothing is pending when it is loaded).
fn random_image(r: &mut Rng) -> [u8; 108] {
    let mut f = FpuState::default();
    let pc = [0u16, 2, 3][r.below(3) as usize];
    let masks = if r.chance(1, 4) {
        r.below(64) as u16
    } else {
        0x3F
    };
    f.control = 0x0040 | masks | (pc << 8) | ((r.below(4) as u16) << 10);
    let flags = r.below(64) as u16 & masks;
    f.status = ((r.below(8) as u16) << 11) | flags | (r.next() as u16 & 0x4700);
    for p in 0..8 {
        f.regs[p] = f80(r);
        let empty = r.chance(1, 3);
        f.set_phys_tag(p, if empty { 3 } else { 0 });
    }
    image(&f)
}

fn image(f: &FpuState) -> [u8; 108] {
    let mut img = [0u8; 108];
    for (k, w) in env_image(f, true, false).iter().enumerate() {
        img[4 * k..4 * k + 4].copy_from_slice(&w.to_le_bytes());
    }
    for i in 0..8 {
        img[28 + 10 * i..38 + 10 * i].copy_from_slice(&f.st(i).to_bytes());
    }
    img
}

fn load(f: &mut FpuState, img: &[u8; 108]) {
    let mut w = [0u32; 7];
    for (k, v) in w.iter_mut().enumerate() {
        *v = u32::from_le_bytes([img[4 * k], img[4 * k + 1], img[4 * k + 2], img[4 * k + 3]]);
    }
    load_env_image(f, w, true, false);
    for i in 0..8 {
        let mut b = [0u8; 10];
        b.copy_from_slice(&img[28 + 10 * i..38 + 10 * i]);
        let p = f.phys(i);
        f.regs[p] = F80::from_bytes(b);
    }
}

/// Guest address of the memory operand.
const MEM: u32 = cpu_interp::harness::DATA_BASE;

/// Runs one step through the interpreter's handler on `m`.
fn emulate(
    m: &mut TestMachine,
    step: &Step,
    img: &mut [u8; 108],
    mem: &mut [u8; 32],
    fl_in: u64,
) -> u64 {
    load(&mut m.s.fpu, img);
    m.s.set_eflags_raw(fl_in as u32);
    m.mmu.phys.write_bytes(MEM, mem);
    m.s.regs[cpu_interp::state::EAX] = MEM;
    let mut dec = iced_x86::Decoder::with_ip(
        32,
        step.bytes,
        m.s.eip as u64,
        iced_x86::DecoderOptions::NONE,
    );
    let ins = dec.decode();
    let d = cpu_interp::decode::Decoded::new(ins, true);
    let mut cpu = cpu_interp::Cpu {
        s: &mut m.s,
        mmu: &mut m.mmu,
        bus: &mut m.bus,
    };
    if let Err(e) = (d.handler)(&mut cpu, &d) {
        println!("MISMATCH {}: the handler raised {e:?}", step.name);
    }
    *img = image(&m.s.fpu);
    for (k, b) in mem.iter_mut().enumerate() {
        *b = m.mmu.phys.read_u8(MEM + k as u32);
    }
    m.s.get_eflags() as u64
}

/// The compared part of an image: CW, SW, TW and the registers.
fn key(img: &[u8; 108]) -> Vec<u8> {
    let mut k = Vec::with_capacity(86);
    k.extend_from_slice(&img[0..2]);
    k.extend_from_slice(&img[4..6]);
    k.extend_from_slice(&img[8..10]);
    k.extend_from_slice(&img[28..108]);
    k
}

/// Runs `sequences` random sequences of 6 steps; returns (steps, kinds,
/// mismatches).
pub fn run(sequences: usize) -> (usize, usize, usize) {
    let steps = steps();
    let mut m = TestMachine::flat32(&[0x90]);
    let mut r = Rng::new(0x005E_ED0F_57AC);
    let (mut cases, mut bad) = (0, 0);
    for _ in 0..sequences {
        let start = random_image(&mut r);
        let (mut h, mut e) = (start, start);
        for _ in 0..6 {
            let s = &steps[r.below(steps.len() as u64) as usize];
            let before = h;
            let mut hm = random_mem(&mut r);
            let mut em = hm;
            let fl_in = 0x202 | (r.next() & 0x45);
            let hf = (s.host)(&mut h, &mut hm, fl_in);
            let ef = emulate(&mut m, s, &mut e, &mut em, fl_in);
            cases += 1;
            let flags_ok = !s.eflags || (hf & 0x45) == (ef & 0x45);
            let pending = h[4] & 0x80 != 0;
            if key(&h) != key(&e) || !flags_ok || hm != em {
                bad += 1;
                if bad <= 8 {
                    println!(
                        "MISMATCH {}: before {:02x?}\n   host  {:02x?} fl={:x} mem={:02x?}\n   model {:02x?} fl={:x} mem={:02x?}",
                        s.name,
                        key(&before),
                        key(&h),
                        hf & 0x45,
                        hm,
                        key(&e),
                        ef & 0x45,
                        em
                    );
                }
                break;
            }
            if pending {
                // An unmasked exception is pending: the next waiting
                // instruction would trap on the host. Start over.
                break;
            }
        }
    }
    (cases, steps.len(), bad)
}
