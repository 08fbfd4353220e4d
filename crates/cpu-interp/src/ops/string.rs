//! String instructions: MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS, with
//! REP/REPE/REPNE, 16- or 32-bit addressing ((E)SI, (E)DI, (E)CX), a
//! segment override on the source and DF.
//!
//! Each iteration is complete before the registers move on, so a fault
//! mid-string leaves (E)SI/(E)DI/(E)CX describing the remaining work and
//! re-executing the instruction resumes it. A repeated instruction runs
//! at most `MAX_ITERS` iterations per call, then leaves EIP at itself so
//! the engine can take interrupts (and count instructions) between
//! chunks. F2 on MOVS/LODS/STOS/INS/OUTS repeats like F3, as on hardware.
//! INS/OUTS check I/O permission (IOPL / TSS bitmap) before the access;
//! INS checks the destination is writable before reading the port.
//! Forward REP MOVS/STOS run page-sized pieces with one segment check
//! per piece; each element still goes through the TLB, so MMIO, ROM and
//! self-modifying-code tracking behave as for single accesses.

use iced_x86::{Mnemonic, Register};

use super::alu::{compute, AluOp};
use super::mask;
use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::dispatch::Table;
use crate::exception::Result;
use crate::state::*;
use crate::sys::io::check_io;

/// Iterations of a repeated string instruction per handler call.
pub const MAX_ITERS: u32 = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Movs,
    Cmps,
    Scas,
    Lods,
    Stos,
    Ins,
    Outs,
}

/// What one iteration needs, worked out once per call.
struct Ctx {
    kind: Kind,
    size: u8,
    a32: bool,
    /// Segment of the (E)SI operand (DS or an override).
    src_seg: usize,
    /// +size or -size per iteration, by DF.
    step: u32,
}

impl Ctx {
    fn new(cpu: &Cpu, d: &Decoded, kind: Kind) -> Ctx {
        let size = d.msize;
        let seg = d.ins.memory_segment();
        let src_seg = if (Register::ES as usize..=Register::GS as usize).contains(&(seg as usize)) {
            seg as usize - Register::ES as usize
        } else {
            DS
        };
        Ctx {
            kind,
            size,
            a32: d.addr32,
            src_seg,
            step: if cpu.s.df() {
                (size as u32).wrapping_neg()
            } else {
                size as u32
            },
        }
    }
}

#[inline(always)]
fn advance(cpu: &mut Cpu, c: &Ctx, reg: usize) {
    let v = cpu.addr_reg(reg, c.a32).wrapping_add(c.step);
    cpu.set_addr_reg(reg, c.a32, v);
}

/// One iteration; registers are updated only when it completes.
#[inline(always)]
fn step(cpu: &mut Cpu, c: &Ctx) -> Result<()> {
    let si = cpu.addr_reg(ESI, c.a32);
    let di = cpu.addr_reg(EDI, c.a32);
    let size = c.size;
    match c.kind {
        Kind::Movs => {
            let v = cpu.read(c.src_seg, si, size)?;
            cpu.write(ES, di, size, v)?;
            advance(cpu, c, ESI);
            advance(cpu, c, EDI);
        }
        Kind::Cmps => {
            let a = cpu.read(c.src_seg, si, size)?;
            let b = cpu.read(ES, di, size)?;
            let (_, lf) = compute(AluOp::Cmp, size, a, b, false);
            cpu.s.flags = lf;
            advance(cpu, c, ESI);
            advance(cpu, c, EDI);
        }
        Kind::Scas => {
            let b = cpu.read(ES, di, size)?;
            let a = cpu.gpr(EAX, size);
            let (_, lf) = compute(AluOp::Cmp, size, a, b, false);
            cpu.s.flags = lf;
            advance(cpu, c, EDI);
        }
        Kind::Lods => {
            let v = cpu.read(c.src_seg, si, size)?;
            cpu.set_gpr(EAX, size, v);
            advance(cpu, c, ESI);
        }
        Kind::Stos => {
            let v = cpu.gpr(EAX, size);
            cpu.write(ES, di, size, v)?;
            advance(cpu, c, EDI);
        }
        Kind::Ins => {
            let port = cpu.s.regs[EDX] as u16;
            check_io(cpu, port, size)?;
            cpu.probe_write(ES, di, size as u32)?;
            let v = cpu.bus.io_read(port, size) & mask(size);
            cpu.write(ES, di, size, v)?;
            advance(cpu, c, EDI);
        }
        Kind::Outs => {
            let port = cpu.s.regs[EDX] as u16;
            check_io(cpu, port, size)?;
            let v = cpu.read(c.src_seg, si, size)?;
            cpu.bus.io_write(port, size, v);
            cpu.bus.sync_memory(cpu.mmu);
            advance(cpu, c, ESI);
        }
    }
    Ok(())
}

/// Physical address of `lin` when its page is plain RAM for the access
/// (the TLB entry the access just used has no MMIO/invalid/not-dirty
/// flag); `None` otherwise.
fn plain_page(cpu: &Cpu, ctx: &mmu::PagingCtx, lin: u32, write: bool) -> Option<u32> {
    let e = cpu.mmu.tlb_entry(ctx.cpl == 3, lin);
    let tag = if write { e.write } else { e.read };
    let bad = mmu::TLB_INVALID | mmu::TLB_MMIO | mmu::TLB_NOTDIRTY;
    if tag & mmu::PAGE_MASK != lin & mmu::PAGE_MASK || tag & bad != 0 {
        return None;
    }
    Some((e.paddr & mmu::PAGE_MASK) | (lin & !mmu::PAGE_MASK))
}

/// Copies `len` bytes from `src` (or fills with the `size`-byte pattern
/// `v` when `src` is `None`) to `dst` in one go, when both ranges lie in
/// plain-RAM pages already in the TLB and a forward element-by-element
/// copy could not read bytes it wrote itself. Returns whether it did.
/// Writes go through `Mmu::write_bytes`, which records self-modifying
/// code like single writes.
fn block_copy(
    cpu: &mut Cpu,
    ctx: &mmu::PagingCtx,
    src: Option<u32>,
    dst: u32,
    len: u32,
    v: u32,
    size: u8,
) -> Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    let Some(dp) = plain_page(cpu, ctx, dst, true) else {
        return Ok(false);
    };
    if let Some(src) = src {
        let Some(sp) = plain_page(cpu, ctx, src, false) else {
            return Ok(false);
        };
        // Element-wise forward copying re-reads what it wrote when the
        // destination starts inside the source (physically).
        if dp > sp && dp < sp.wrapping_add(len) {
            return Ok(false);
        }
    }
    // Copy through a small stack buffer in pieces (zeroing a page-sized
    // buffer per REP instruction cost more than the copy). Piecewise
    // forward copying is what the element loop does, and the overlap case
    // that would differ was excluded above.
    let mut buf = [0u8; COPY_CHUNK];
    if src.is_none() {
        let used = (len as usize).min(COPY_CHUNK);
        let pat = v.to_le_bytes();
        for piece in buf[..used].chunks_mut(size as usize) {
            piece.copy_from_slice(&pat[..piece.len()]);
        }
    }
    let mut done = 0u32;
    while done < len {
        let n = (len - done).min(COPY_CHUNK as u32);
        let piece = &mut buf[..n as usize];
        if let Some(src) = src {
            cpu.mmu.read_bytes(ctx, src.wrapping_add(done), piece)?;
        }
        cpu.mmu.write_bytes(ctx, dst.wrapping_add(done), piece)?;
        done += n;
    }
    Ok(true)
}

/// Bytes `block_copy` moves per step (a multiple of every element size, so
/// a fill pattern stays aligned across pieces).
const COPY_CHUNK: usize = 256;

/// Runs up to `max` iterations of a forward (DF = 0) REP MOVS/STOS whose
/// elements all lie in one page on each side and inside the segment
/// limits, checking the segments once for the run instead of per element.
/// Returns how many iterations were done (0: take the general path; a
/// fault can only come from the first element, before any state changed).
fn bulk_forward(cpu: &mut Cpu, c: &Ctx, max: u32) -> Result<u32> {
    let size = c.size as u32;
    let di = cpu.addr_reg(EDI, c.a32);
    let room = |off: u32, lin: u32, a32: bool| {
        let page = (4096 - (lin & 0xFFF)) / size;
        if a32 {
            page
        } else {
            page.min((0x1_0000 - off) / size)
        }
    };
    let dlin0 = cpu.s.seg[ES].base.wrapping_add(di);
    let mut n = max.min(room(di, dlin0, c.a32));
    let si = cpu.addr_reg(ESI, c.a32);
    if c.kind == Kind::Movs {
        let slin0 = cpu.s.seg[c.src_seg].base.wrapping_add(si);
        n = n.min(room(si, slin0, c.a32));
    }
    if n < 2 {
        return Ok(0);
    }
    let Ok(dlin) = cpu.linear(ES, di, n * size, true) else {
        return Ok(0);
    };
    let ctx = cpu.s.paging_ctx();
    let slin = if c.kind == Kind::Movs {
        let Ok(slin) = cpu.linear(c.src_seg, si, n * size, false) else {
            return Ok(0);
        };
        Some(slin)
    } else {
        None
    };
    let v = cpu.gpr(EAX, c.size);
    // Element 0 the ordinary way: it faults before anything changed, and
    // it loads the TLB entries the rest of the run (same pages) uses.
    let mut k = 0;
    while k < n {
        let t = dlin.wrapping_add(k * size);
        let val = match slin {
            Some(slin) => {
                let s = slin.wrapping_add(k * size);
                match c.size {
                    1 => cpu.mmu.read_u8(&ctx, s)? as u32,
                    2 => cpu.mmu.read_u16(&ctx, s)? as u32,
                    _ => cpu.mmu.read_u32(&ctx, s)?,
                }
            }
            None => v,
        };
        match c.size {
            1 => cpu.mmu.write_u8(&ctx, t, val as u8)?,
            2 => cpu.mmu.write_u16(&ctx, t, val as u16)?,
            _ => cpu.mmu.write_u32(&ctx, t, val)?,
        }
        k += 1;
        if k == 1
            && block_copy(
                cpu,
                &ctx,
                slin.map(|a| a.wrapping_add(size)),
                dlin.wrapping_add(size),
                (n - 1) * size,
                v,
                c.size,
            )?
        {
            break;
        }
    }
    if slin.is_some() {
        cpu.set_addr_reg(ESI, c.a32, si.wrapping_add(n * size));
    }
    cpu.set_addr_reg(EDI, c.a32, di.wrapping_add(n * size));
    Ok(n)
}

fn string_op(cpu: &mut Cpu, d: &Decoded, kind: Kind) -> Result<()> {
    let c = Ctx::new(cpu, d, kind);
    let rep_e = d.ins.has_repe_prefix();
    let rep_ne = d.ins.has_repne_prefix();
    if !rep_e && !rep_ne {
        return step(cpu, &c);
    }
    let conditional = matches!(kind, Kind::Cmps | Kind::Scas);
    let bulk = matches!(kind, Kind::Movs | Kind::Stos) && !cpu.s.df();
    let mut count = cpu.addr_reg(ECX, c.a32);
    let mut done = 0;
    while count != 0 {
        if done == MAX_ITERS {
            // Resume later: the engine sees EIP moved and ends the block.
            cpu.s.eip = d.ins.ip() as u32;
            return Ok(());
        }
        if bulk && count > 1 {
            let n = bulk_forward(cpu, &c, count.min(MAX_ITERS - done))?;
            if n > 0 {
                count -= n;
                cpu.set_addr_reg(ECX, c.a32, count);
                done += n;
                continue;
            }
        }
        step(cpu, &c)?;
        count = count.wrapping_sub(1);
        cpu.set_addr_reg(ECX, c.a32, count);
        done += 1;
        if conditional {
            let zf = cpu.s.zf();
            if (rep_e && !zf) || (rep_ne && zf) {
                break;
            }
        }
    }
    Ok(())
}

fn movs(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Movs)
}
fn cmps(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Cmps)
}
fn scas(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Scas)
}
fn lods(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Lods)
}
fn stos(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Stos)
}
fn ins(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Ins)
}
fn outs(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    string_op(cpu, d, Kind::Outs)
}

pub fn register(t: &mut Table) {
    for code in crate::dispatch::legacy_codes() {
        let h: crate::dispatch::Handler = match code.mnemonic() {
            Mnemonic::Movsb | Mnemonic::Movsw | Mnemonic::Movsd => movs,
            Mnemonic::Cmpsb | Mnemonic::Cmpsw | Mnemonic::Cmpsd => cmps,
            Mnemonic::Scasb | Mnemonic::Scasw | Mnemonic::Scasd => scas,
            Mnemonic::Lodsb | Mnemonic::Lodsw | Mnemonic::Lodsd => lods,
            Mnemonic::Stosb | Mnemonic::Stosw | Mnemonic::Stosd => stos,
            Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => ins,
            Mnemonic::Outsb | Mnemonic::Outsw | Mnemonic::Outsd => outs,
            _ => continue,
        };
        // Movsd/Cmpsd also name SSE2 instructions; keep the string forms.
        let oc = code.op_code();
        if oc.op_count() == 0 || code.encoding() != iced_x86::EncodingKind::Legacy {
            continue;
        }
        use iced_x86::OpCodeOperandKind as K;
        let is_string = (0..oc.op_count())
            .any(|i| matches!(oc.op_kind(i), K::seg_rSI | K::es_rDI | K::seg_rDI));
        if is_string {
            t.set(code, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::harness::{asm16, TestMachine};
    use crate::state::*;
    use iced_x86::code_asm::*;

    #[test]
    fn sixteen_bit_offsets_wrap() {
        // Real mode: DI wraps from 0xFFFF to 0 within the segment.
        let code = asm16(0, |a| {
            a.mov(di, 0xFFFF).unwrap();
            a.mov(cx, 2).unwrap();
            a.mov(al, 0x5A).unwrap();
            a.rep().stosb().unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.run();
        assert_eq!(m.mmu.phys.read_u8(0x3FFFF), 0x5A);
        assert_eq!(m.mmu.phys.read_u8(0x30000), 0x5A);
        assert_eq!(m.s.regs[EDI] & 0xFFFF, 1);
        assert_eq!(m.s.regs[ECX] & 0xFFFF, 0);
    }
}
