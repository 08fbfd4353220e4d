//! Control instructions: FINIT/FNINIT, FCLEX/FNCLEX, FSTSW/FNSTSW (AX and
//! m16), FSTCW/FNSTCW, FLDCW, FSTENV/FNSTENV and FLDENV (14- and 28-byte
//! images in real/V86 and protected formats), FSAVE/FNSAVE and FRSTOR
//! (94/108 bytes), FXSAVE/FXRSTOR (512 bytes, x87 part; no XMM state as SSE
//! is not implemented), FNOP and the 287 leftovers that a 387+ ignores
//! (FENI, FDISI, FSETPM), and WAIT/FWAIT.

use iced_x86::Code;

use super::env::{ES, EXC_MASK};
use super::exec::*;
use super::f80::F80;
use super::state::SW_B;
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::{Exception, Result};
use crate::state::{cr0, EAX};

/// Waiting forms run the pending-exception check first.
fn entry<const WAIT: bool>(cpu: &mut Cpu) -> Result<()> {
    if WAIT {
        begin(cpu)
    } else {
        check_nm(cpu)
    }
}

fn finit<const WAIT: bool>(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    let was = es(cpu);
    cpu.s.fpu.init();
    update_es_from(cpu, was);
    Ok(())
}

fn fclex<const WAIT: bool>(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    let was = es(cpu);
    cpu.s.fpu.status &= !(EXC_MASK | super::env::SF | ES | SW_B);
    update_es_from(cpu, was);
    Ok(())
}

fn fstsw_ax<const WAIT: bool>(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    let sw = cpu.s.fpu.status as u32;
    cpu.s.regs[EAX] = (cpu.s.regs[EAX] & 0xFFFF_0000) | sw;
    Ok(())
}

fn fstsw_m<const WAIT: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    let sw = cpu.s.fpu.status;
    write_m16(cpu, d, sw)
}

fn fstcw<const WAIT: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    let cw = cpu.s.fpu.control;
    write_m16(cpu, d, cw)
}

fn fldcw(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let cw = read_m16(cpu, d)?;
    // Bit 6 reads as one, bits 13-15 and 7 as zero on the 387 and later.
    cpu.s.fpu.control = (cw & 0x1F3F) | 0x0040;
    update_es(cpu);
    Ok(())
}

fn fnop(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    note(cpu, d, false);
    Ok(())
}

/// FENI/FDISI/FSETPM: 8087/287 controls, no-ops from the 387 on.
fn legacy_nop<const WAIT: bool>(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)
}

/// WAIT/FWAIT: #NM only if both MP and TS are set; then pending exceptions.
fn fwait(cpu: &mut Cpu, _d: &Decoded) -> Result<()> {
    if cpu.s.cr0 & (cr0::MP | cr0::TS) == (cr0::MP | cr0::TS) {
        return Err(Exception::NM);
    }
    if cpu.s.fpu.status & ES != 0 {
        pending(cpu)?;
    }
    Ok(())
}

// ---- environment images -------------------------------------------------

/// The real-mode (and V86) image format is used outside protected mode.
fn real_format(cpu: &Cpu) -> bool {
    !cpu.s.protected_mode() || cpu.s.v86()
}

/// The 7 (32-bit) or 7 (16-bit) fields of an environment image, as the
/// words/dwords they are stored as.
pub fn env_image(f: &super::FpuState, op32: bool, real: bool) -> [u32; 7] {
    let tw = f.full_tag_word() as u32;
    let (cw, sw) = (f.control as u32, f.status as u32);
    let op = (f.opcode & 0x7FF) as u32;
    if real {
        let ip = (f.fcs as u32) * 16 + f.fip;
        let dp = (f.fds as u32) * 16 + f.fdp;
        if op32 {
            [
                cw | 0xFFFF_0000,
                sw | 0xFFFF_0000,
                tw | 0xFFFF_0000,
                (ip & 0xFFFF) | 0xFFFF_0000,
                ((ip >> 16) << 12) | op,
                (dp & 0xFFFF) | 0xFFFF_0000,
                (dp >> 16) << 12,
            ]
        } else {
            [
                cw,
                sw,
                tw,
                ip & 0xFFFF,
                (((ip >> 16) & 0xF) << 12) | op,
                dp & 0xFFFF,
                ((dp >> 16) & 0xF) << 12,
            ]
        }
    } else if op32 {
        [
            cw | 0xFFFF_0000,
            sw | 0xFFFF_0000,
            tw | 0xFFFF_0000,
            f.fip,
            (f.fcs as u32) | (op << 16),
            f.fdp,
            (f.fds as u32) | 0xFFFF_0000,
        ]
    } else {
        [
            cw,
            sw,
            tw,
            f.fip & 0xFFFF,
            f.fcs as u32,
            f.fdp & 0xFFFF,
            f.fds as u32,
        ]
    }
}

/// Loads an environment image into `f` (tags: only "empty" matters).
pub fn load_env_image(f: &mut super::FpuState, w: [u32; 7], op32: bool, real: bool) {
    settle_opcode(f);
    f.control = (w[0] as u16 & 0x1F3F) | 0x0040;
    f.status = w[1] as u16;
    f.load_tag_word(w[2] as u16);
    if real {
        let hi_mask = if op32 { 0xFFFF } else { 0xF };
        f.fip = (w[3] & 0xFFFF) | (((w[4] >> 12) & hi_mask) << 16);
        f.opcode = (w[4] & 0x7FF) as u16;
        f.fdp = (w[5] & 0xFFFF) | (((w[6] >> 12) & hi_mask) << 16);
        f.fcs = 0;
        f.fds = 0;
    } else if op32 {
        f.fip = w[3];
        f.fcs = w[4] as u16;
        f.opcode = ((w[4] >> 16) & 0x7FF) as u16;
        f.fdp = w[5];
        f.fds = w[6] as u16;
    } else {
        f.fip = w[3] & 0xFFFF;
        f.fcs = w[4] as u16;
        f.fdp = w[5] & 0xFFFF;
        f.fds = w[6] as u16;
    }
}

/// The 32-bit image forms (28-byte environment, 108-byte save area).
fn big(d: &Decoded) -> bool {
    d.msize == 28 || d.msize == 108
}

fn env_len(op32: bool) -> u32 {
    if op32 {
        28
    } else {
        14
    }
}

fn write_env(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    settle_opcode(&mut cpu.s.fpu);
    let img = env_image(&cpu.s.fpu, big(d), real_format(cpu));
    let seg = d.mem.seg as usize;
    let base = cpu.ea(d);
    let step = if big(d) { 4 } else { 2 };
    for (k, v) in img.iter().enumerate() {
        let off = base.wrapping_add(k as u32 * step);
        cpu.write(seg, off, step as u8, *v)?;
    }
    Ok(())
}

fn read_env(cpu: &mut Cpu, d: &Decoded) -> Result<[u32; 7]> {
    let seg = d.mem.seg as usize;
    let base = cpu.ea(d);
    let step = if big(d) { 4 } else { 2 };
    let mut w = [0u32; 7];
    for (k, v) in w.iter_mut().enumerate() {
        *v = cpu.read(seg, base.wrapping_add(k as u32 * step), step as u8)?;
    }
    Ok(w)
}

fn fstenv<const WAIT: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    probe_store(cpu, d, env_len(big(d)))?;
    write_env(cpu, d)?;
    // FSTENV leaves every exception masked.
    cpu.s.fpu.control |= EXC_MASK;
    update_es(cpu);
    Ok(())
}

fn fldenv(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let w = read_env(cpu, d)?;
    let real = real_format(cpu);
    let was = es(cpu);
    load_env_image(&mut cpu.s.fpu, w, big(d), real);
    update_es_from(cpu, was);
    Ok(())
}

fn fsave<const WAIT: bool>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    entry::<WAIT>(cpu)?;
    let env = env_len(big(d));
    probe_store(cpu, d, env + 80)?;
    write_env(cpu, d)?;
    let seg = d.mem.seg as usize;
    let base = cpu.ea(d).wrapping_add(env);
    for i in 0..8 {
        let b = cpu.s.fpu.st(i).to_bytes();
        let off = base.wrapping_add(i as u32 * 10);
        let mut lo = [0u8; 8];
        lo.copy_from_slice(&b[..8]);
        cpu.write_u64(seg, off, u64::from_le_bytes(lo))?;
        cpu.write(
            seg,
            off.wrapping_add(8),
            2,
            u16::from_le_bytes([b[8], b[9]]) as u32,
        )?;
    }
    let was = es(cpu);
    cpu.s.fpu.init();
    update_es_from(cpu, was);
    Ok(())
}

fn frstor(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    begin(cpu)?;
    let w = read_env(cpu, d)?;
    let seg = d.mem.seg as usize;
    let base = cpu.ea(d).wrapping_add(env_len(big(d)));
    let mut regs = [F80::ZERO; 8];
    for (i, r) in regs.iter_mut().enumerate() {
        let off = base.wrapping_add(i as u32 * 10);
        let lo = cpu.read_u64(seg, off)?;
        let hi = cpu.read(seg, off.wrapping_add(8), 2)? as u16;
        *r = F80 { sig: lo, se: hi };
    }
    let real = real_format(cpu);
    let was = es(cpu);
    let f = &mut cpu.s.fpu;
    load_env_image(f, w, big(d), real);
    for (i, r) in regs.iter().enumerate() {
        let p = f.phys(i);
        f.regs[p] = *r;
    }
    update_es_from(cpu, was);
    Ok(())
}

// ---- FXSAVE / FXRSTOR ---------------------------------------------------

/// The 512-byte FXSAVE image of the x87 state (bytes 160.. are left as
/// they are in memory: no XMM registers).
pub fn fxsave_image(f: &super::FpuState) -> [u8; 160] {
    let mut b = [0u8; 160];
    b[0..2].copy_from_slice(&f.control.to_le_bytes());
    b[2..4].copy_from_slice(&f.status.to_le_bytes());
    b[4] = f.abridged_tag();
    b[6..8].copy_from_slice(&(f.opcode & 0x7FF).to_le_bytes());
    b[8..12].copy_from_slice(&f.fip.to_le_bytes());
    b[12..14].copy_from_slice(&f.fcs.to_le_bytes());
    b[16..20].copy_from_slice(&f.fdp.to_le_bytes());
    b[20..22].copy_from_slice(&f.fds.to_le_bytes());
    b[24..28].copy_from_slice(&f.mxcsr.to_le_bytes());
    b[28..32].copy_from_slice(&0xFFFFu32.to_le_bytes());
    for i in 0..8 {
        let o = 32 + 16 * i;
        b[o..o + 10].copy_from_slice(&f.st(i).to_bytes());
    }
    b
}

/// Loads an FXSAVE image; `Err` = #GP(0) for reserved MXCSR bits.
pub fn fxrstor_image(f: &mut super::FpuState, b: &[u8; 160]) -> Result<()> {
    let mxcsr = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
    if mxcsr & !0xFFFF != 0 {
        return Err(Exception::GP(0));
    }
    f.control = (u16::from_le_bytes([b[0], b[1]]) & 0x1F3F) | 0x0040;
    f.status = u16::from_le_bytes([b[2], b[3]]);
    f.load_abridged_tag(b[4]);
    f.opcode = u16::from_le_bytes([b[6], b[7]]) & 0x7FF;
    f.fop_code = 0;
    f.fip = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    f.fcs = u16::from_le_bytes([b[12], b[13]]);
    f.fdp = u32::from_le_bytes([b[16], b[17], b[18], b[19]]);
    f.fds = u16::from_le_bytes([b[20], b[21]]);
    f.mxcsr = mxcsr;
    for i in 0..8 {
        let o = 32 + 16 * i;
        let mut r = [0u8; 10];
        r.copy_from_slice(&b[o..o + 10]);
        let p = f.phys(i);
        f.regs[p] = F80::from_bytes(r);
    }
    Ok(())
}

/// The 16-byte-aligned linear address of the FXSAVE area.
fn fx_area(cpu: &mut Cpu, d: &Decoded, write: bool) -> Result<u32> {
    check_nm(cpu)?;
    let off = cpu.ea(d);
    let lin = cpu.linear(d.mem.seg as usize, off, 512, write)?;
    if lin & 15 != 0 {
        return Err(Exception::GP(0));
    }
    Ok(off)
}

fn fxsave(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = fx_area(cpu, d, true)?;
    let seg = d.mem.seg as usize;
    cpu.probe_write(seg, off, 160)?;
    settle_opcode(&mut cpu.s.fpu);
    let img = fxsave_image(&cpu.s.fpu);
    for (k, ch) in img.chunks(4).enumerate() {
        let v = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
        cpu.write(seg, off.wrapping_add(4 * k as u32), 4, v)?;
    }
    Ok(())
}

fn fxrstor(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = fx_area(cpu, d, false)?;
    let seg = d.mem.seg as usize;
    let mut img = [0u8; 160];
    for k in 0..40 {
        let v = cpu.read(seg, off.wrapping_add(4 * k as u32), 4)?;
        img[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
    }
    let was = es(cpu);
    fxrstor_image(&mut cpu.s.fpu, &img)?;
    update_es_from(cpu, was);
    Ok(())
}

pub fn register(t: &mut Table) {
    use Code::*;
    t.set(Fninit, finit::<false>);
    t.set(Finit, finit::<true>);
    t.set(Fnclex, fclex::<false>);
    t.set(Fclex, fclex::<true>);
    t.set(Fnstsw_AX, fstsw_ax::<false>);
    t.set(Fstsw_AX, fstsw_ax::<true>);
    t.set(Fnstsw_m2byte, fstsw_m::<false>);
    t.set(Fstsw_m2byte, fstsw_m::<true>);
    t.set(Fnstcw_m2byte, fstcw::<false>);
    t.set(Fstcw_m2byte, fstcw::<true>);
    t.set(Fldcw_m2byte, fldcw);
    t.set(Fnstenv_m14byte, fstenv::<false>);
    t.set(Fnstenv_m28byte, fstenv::<false>);
    t.set(Fstenv_m14byte, fstenv::<true>);
    t.set(Fstenv_m28byte, fstenv::<true>);
    t.set(Fldenv_m14byte, fldenv);
    t.set(Fldenv_m28byte, fldenv);
    t.set(Fnsave_m94byte, fsave::<false>);
    t.set(Fnsave_m108byte, fsave::<false>);
    t.set(Fsave_m94byte, fsave::<true>);
    t.set(Fsave_m108byte, fsave::<true>);
    t.set(Frstor_m94byte, frstor);
    t.set(Frstor_m108byte, frstor);
    t.set(Fxsave_m512byte, fxsave);
    t.set(Fxrstor_m512byte, fxrstor);
    t.set(Fnop, fnop);
    t.set(Fneni, legacy_nop::<false>);
    t.set(Feni, legacy_nop::<true>);
    t.set(Fndisi, legacy_nop::<false>);
    t.set(Fdisi, legacy_nop::<true>);
    t.set(Fnsetpm, legacy_nop::<false>);
    t.set(Fsetpm, legacy_nop::<true>);
    t.set(Wait, fwait);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x87::env::C1;
    use crate::x87::FpuState;

    #[test]
    fn protected_32bit_env_layout() {
        let mut f = FpuState::default();
        f.push(F80::ONE);
        f.fip = 0x1234_5678;
        f.fcs = 0x0008;
        f.opcode = 0x1D9;
        f.fdp = 0xCAFE_0000;
        f.fds = 0x0010;
        let img = env_image(&f, true, false);
        assert_eq!(img[0], 0xFFFF_037F);
        assert_eq!(img[1], 0xFFFF_3800, "TOP = 7");
        assert_eq!(img[2], 0xFFFF_3FFF, "R7 valid, others empty");
        assert_eq!(img[3], 0x1234_5678);
        assert_eq!(img[4], 0x01D9_0008);
        assert_eq!(img[5], 0xCAFE_0000);
        assert_eq!(img[6], 0xFFFF_0010);
        let mut g = FpuState::default();
        load_env_image(&mut g, img, true, false);
        assert_eq!(
            (g.control, g.status, g.tag, g.fip, g.fcs, g.opcode),
            (0x037F, 0x3800, 0x3FFF, 0x1234_5678, 8, 0x1D9)
        );
    }

    #[test]
    fn real_mode_env_layouts_carry_linear_pointers() {
        let f = FpuState {
            fcs: 0x1234,
            fip: 0x0010,
            fds: 0xF000,
            fdp: 0x0FFF,
            ..Default::default()
        };
        let img16 = env_image(&f, false, true);
        assert_eq!(img16[3], 0x2350, "low 16 bits of 0x12350");
        assert_eq!(img16[4], 0x1000, "bits 16-19 in 12-15");
        assert_eq!(img16[5], 0x0FFF);
        assert_eq!(img16[6], 0xF000);
        let img32 = env_image(&f, true, true);
        assert_eq!(img32[3], 0xFFFF_2350);
        assert_eq!(img32[4], 0x1000);
        let mut g = FpuState::default();
        load_env_image(&mut g, img32, true, true);
        assert_eq!((g.fip, g.fdp), (0x12350, 0xF0FFF));
    }

    #[test]
    fn fxsave_layout_and_round_trip() {
        let mut f = FpuState::default();
        f.push(F80::ONE);
        f.push(F80::INDEFINITE);
        f.status |= C1;
        f.fip = 0xAABB_CCDD;
        let img = fxsave_image(&f);
        assert_eq!(&img[0..2], &[0x7F, 0x03]);
        assert_eq!(u16::from_le_bytes([img[2], img[3]]), 0x3000 | C1);
        assert_eq!(img[4], 0xC0, "R6 and R7 in use");
        assert_eq!(&img[32..42], &F80::INDEFINITE.to_bytes());
        assert_eq!(&img[48..58], &F80::ONE.to_bytes());
        assert_eq!(
            u32::from_le_bytes([img[24], img[25], img[26], img[27]]),
            0x1F80
        );
        let mut g = FpuState::default();
        fxrstor_image(&mut g, &img).unwrap();
        assert_eq!(g, f);
        let mut bad = img;
        bad[27] = 1;
        assert_eq!(fxrstor_image(&mut g, &bad), Err(Exception::GP(0)));
    }
}

#[cfg(test)]
mod machine_tests {
    use crate::harness::*;
    use crate::x87::F80;
    use crate::Stop;
    use iced_x86::code_asm::*;

    #[test]
    fn fsave_frstor_round_trip_protected_32() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.fninit().unwrap();
            a.fldpi().unwrap();
            a.fld1().unwrap();
            a.fnsave(ptr(DATA_BASE)).unwrap();
            a.fnstsw(word_ptr(DATA_BASE + 200)).unwrap();
            a.frstor(ptr(DATA_BASE)).unwrap();
            a.fxsave(ptr(DATA_BASE + 0x200)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        assert_eq!(m.run(), Stop::Halted);
        let p = &mut m.mmu.phys;
        assert_eq!(p.read_u32(DATA_BASE), 0xFFFF_037F);
        assert_eq!(p.read_u32(DATA_BASE + 4) & 0xFFFF, 0x3000, "TOP = 6");
        assert_eq!(p.read_u32(DATA_BASE + 8) & 0xFFFF, 0x0FFF, "R6, R7 valid");
        assert_eq!(p.read_u32(DATA_BASE + 12), CODE_BASE + 4, "FIP of FLD1");
        assert_eq!(p.read_u32(DATA_BASE + 16) & 0xFFFF, 0x08, "FCS");
        assert_eq!(p.read_u32(DATA_BASE + 16) >> 16, 0x1E8, "FOP of FLD1");
        assert_eq!(p.read_u64(DATA_BASE + 28), 1 << 63, "ST0 = 1.0");
        assert_eq!(p.read_u16(DATA_BASE + 36), 0x3FFF);
        assert_eq!(
            p.read_u64(DATA_BASE + 38),
            0xC90F_DAA2_2168_C235,
            "ST1 = pi"
        );
        assert_eq!(p.read_u16(DATA_BASE + 200), 0, "FNSAVE reinitialises");
        assert_eq!(m.s.fpu.st(0), F80::ONE);
        assert_eq!(m.s.fpu.top(), 6);
        let fx = DATA_BASE + 0x200;
        assert_eq!(p.read_u16(fx), 0x037F);
        assert_eq!(p.read_u8(fx + 4), 0xC0);
        assert_eq!(p.read_u64(fx + 48), 0xC90F_DAA2_2168_C235);
    }

    #[test]
    fn fstenv_real_mode_16_and_fldenv() {
        let code = asm16(0, |a| {
            a.fninit().unwrap();
            a.fld1().unwrap();
            a.fnstenv(ptr(0x100)).unwrap();
            a.fnstcw(word_ptr(0x120)).unwrap();
            a.fldenv(ptr(0x100)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        assert_eq!(m.run(), Stop::Halted);
        let p = &mut m.mmu.phys;
        let base = 0x30100;
        assert_eq!(p.read_u16(base), 0x037F);
        assert_eq!(p.read_u16(base + 4), 0x3FFF, "tag word");
        assert_eq!(p.read_u16(base + 6), 0x0002, "FIP linear low = 0x10002");
        assert_eq!(p.read_u16(base + 8) & 0xF000, 0x1000, "FIP bits 16-19");
        assert_eq!(p.read_u16(0x30120), 0x037F | 0x3F);
        assert_eq!(m.s.fpu.control, 0x037F, "FLDENV restored the saved CW");
    }

    #[test]
    fn fxsave_requires_alignment() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.fxsave(ptr(DATA_BASE + 8)).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        let stop = m.run();
        assert_ne!(m.s.eip, CODE_BASE + 8, "did not complete: {stop:?}");
    }

    /// FPU-heavy guest loop for a MIPS figure (run with --ignored --release).
    #[test]
    #[ignore]
    fn x87_loop_mips() {
        let n = 2_000_000u32;
        let code = asm32(CODE_BASE as u64, |a| {
            let mut top = a.create_label();
            a.fninit().unwrap();
            a.mov(ecx, n).unwrap();
            a.fldz().unwrap();
            a.set_label(&mut top).unwrap();
            a.fld(dword_ptr(DATA_BASE)).unwrap();
            a.fmul(dword_ptr(DATA_BASE + 4)).unwrap();
            a.faddp(st1, st0).unwrap();
            a.fld(st0).unwrap();
            a.fsqrt().unwrap();
            a.fstp(qword_ptr(DATA_BASE + 8)).unwrap();
            a.dec(ecx).unwrap();
            a.jnz(top).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.mmu.phys.write_u32(DATA_BASE, 1.5f32.to_bits());
        m.mmu.phys.write_u32(DATA_BASE + 4, 0.75f32.to_bits());
        let t = std::time::Instant::now();
        assert_eq!(m.run_budget(u64::MAX), Stop::Halted);
        let secs = t.elapsed().as_secs_f64();
        let insns = 8.0 * n as f64 + 4.0;
        println!(
            "x87 loop: {:.1} MIPS ({insns} instructions in {secs:.3} s)",
            insns / secs / 1e6
        );
    }
}
