//! Decoding guest code with `iced-x86` into cached blocks.
//!
//! A block is a run of instructions starting at one EIP, ending after a
//! control transfer, at the end of a 4 KiB page (an instruction may straddle
//! into the next page; both pages are then recorded), at the CS limit, or at
//! `MAX_BLOCK_INSNS`. Blocks are cached by (physical address, EIP, code
//! size) and dropped when a write hits one of their pages (mmu's code-page
//! tracking tells the engine). The same unchanged bytes are never decoded
//! twice for the same (EIP, mode).
//!
//! Each instruction is stored with its handler and pre-digested operand
//! facts (width, memory operand, address size, register indices, immediate,
//! next EIP, whether it may write memory) so execution does no table
//! lookups; the hottest forms get a per-form handler from `ops::fast`.
//!
//! Only a block's own bytes are registered as code with the mmu (64-byte
//! granularity), so data writes elsewhere in the page keep its blocks. The
//! fast lookup by linear address skips re-checking the TLB while the TLB's
//! epoch is unchanged.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, OpKind, Register};

use crate::cpu::{Cpu, MemOperand, NO_REG};
use crate::dispatch::{handler_for, Handler};
use crate::exception::{Exception, Result};
use crate::state::CS;

pub const MAX_BLOCK_INSNS: usize = 64;

/// Bytes of guest code fetched per block decode (well above the longest
/// instruction, so a block's first instruction always fits).
const FETCH_CAP: usize = 1024;

/// One decoded instruction ready to execute.
#[derive(Clone, Copy)]
pub struct Decoded {
    pub ins: Instruction,
    pub handler: Handler,
    /// Width in bytes of operand 0 (or of the operation when operand 0 is
    /// not a register/memory operand).
    pub width: u8,
    /// Size in bytes of the memory operand, if any.
    pub msize: u8,
    /// 32-bit address size (ModRM addressing, string registers, LOOP count).
    pub addr32: bool,
    /// 32-bit operand size of the encoding (after 0x66).
    pub op32: bool,
    /// The engine must look at mmu's self-modifying-code flag after this
    /// instruction: it may write memory (explicit or stack operands, or an
    /// implicit write such as a descriptor's accessed bit or device DMA).
    /// Conservative: only plain register/immediate instructions clear it.
    pub smc_check: bool,
    pub mem: MemOperand,
    /// EIP of the next instruction (wrapped to 16 bits in 16-bit code).
    pub next_eip: u32,
    /// GPR index of operand 0 / 1 when it is a 16- or 32-bit general
    /// register, `NO_REG` otherwise (the per-form fast handlers use them).
    pub r0: u8,
    pub r1: u8,
    /// The last immediate operand, sign-extended as the encoding says.
    pub imm: u32,
}

impl Decoded {
    pub fn new(ins: Instruction, code32: bool) -> Decoded {
        let mut width = 0u8;
        let mut msize = 0u8;
        let mut mem = MemOperand {
            seg: 3,
            base: NO_REG,
            index: NO_REG,
            scale: 0,
            disp: 0,
        };
        let mut addr32 = code32;
        let mut have_addr = false;
        for n in 0..ins.op_count() {
            match ins.op_kind(n) {
                OpKind::Register if n == 0 => {
                    width = ins.op_register(0).size() as u8;
                }
                OpKind::Memory => {
                    msize = ins.memory_size().size() as u8;
                    if n == 0 {
                        width = msize;
                    }
                    let base = ins.memory_base();
                    let index = ins.memory_index();
                    mem.seg = seg_index(ins.memory_segment());
                    mem.base = gpr_index(base);
                    mem.index = gpr_index(index);
                    mem.scale = ins.memory_index_scale().trailing_zeros() as u8;
                    mem.disp = ins.memory_displacement32();
                    addr32 = if base != Register::None {
                        base.size() == 4
                    } else if index != Register::None {
                        index.size() == 4
                    } else {
                        ins.memory_displ_size() == 4
                    };
                    have_addr = true;
                }
                OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => {
                    msize = ins.memory_size().size() as u8;
                    if n == 0 || width == 0 {
                        width = msize;
                    }
                    mem.seg = seg_index(ins.memory_segment());
                    addr32 = false;
                    have_addr = true;
                }
                OpKind::MemorySegESI | OpKind::MemorySegEDI | OpKind::MemoryESEDI => {
                    msize = ins.memory_size().size() as u8;
                    if n == 0 || width == 0 {
                        width = msize;
                    }
                    mem.seg = seg_index(ins.memory_segment());
                    addr32 = true;
                    have_addr = true;
                }
                _ => {}
            }
        }
        if !have_addr {
            // Address size of instructions without a memory operand (LOOP,
            // JCXZ, XLAT...) follows the 0x67 prefix: iced encodes it in
            // the Code, but we still need it for generic handlers.
            addr32 = addr_size32(&ins, code32);
        }
        let op32 = match ins.code().op_code().operand_size() {
            16 => false,
            32 => true,
            _ => code32,
        };
        if width == 0 {
            width = if op32 { 4 } else { 2 };
        }
        let mut imm = 0;
        for n in 0..ins.op_count() {
            if is_immediate(ins.op_kind(n)) {
                imm = ins.immediate(n) as u32;
            }
        }
        let next_mask = if code32 { u32::MAX } else { 0xFFFF };
        let mut d = Decoded {
            ins,
            handler: handler_for(&ins),
            width,
            msize,
            addr32,
            op32,
            smc_check: !is_pure(&ins),
            mem,
            next_eip: (ins.next_ip() as u32) & next_mask,
            r0: gpr_operand(&ins, 0),
            r1: gpr_operand(&ins, 1),
            imm,
        };
        if !ins.is_invalid() {
            if let Some(h) = crate::ops::fast::specialize(&d) {
                d.handler = h;
            }
        }
        d
    }
}

fn is_immediate(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Immediate8
            | OpKind::Immediate8_2nd
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

/// GPR index of operand `n` when it is a 16- or 32-bit general register.
fn gpr_operand(ins: &Instruction, n: u32) -> u8 {
    if n < ins.op_count() && ins.op_kind(n) == OpKind::Register {
        return gpr_index(ins.op_register(n));
    }
    NO_REG
}

/// An instruction that cannot write guest memory: only register, immediate
/// and branch operands (no segment registers, whose loads set descriptor
/// accessed bits), no stack use, and none of the instructions with
/// implicit memory effects (port I/O may start device DMA; LTR/LLDT touch
/// descriptors; control transfers end the block anyway).
fn is_pure(ins: &Instruction) -> bool {
    use iced_x86::Mnemonic as M;
    if ins.is_invalid() || ins.stack_pointer_increment() != 0 {
        return false;
    }
    for n in 0..ins.op_count() {
        match ins.op_kind(n) {
            OpKind::Register => {
                let r = ins.op_register(n);
                if !(r.is_gpr() || r.is_st() || r.is_mm()) {
                    return false;
                }
            }
            OpKind::NearBranch16 | OpKind::NearBranch32 => {}
            k if is_immediate(k) => {}
            _ => return false,
        }
    }
    !matches!(
        ins.mnemonic(),
        M::In
            | M::Out
            | M::Ltr
            | M::Lldt
            | M::Int
            | M::Int1
            | M::Int3
            | M::Into
            | M::Iret
            | M::Iretd
            | M::Hlt
            | M::Wrmsr
            | M::Sysenter
            | M::Sysexit
            | M::Ud0
            | M::Ud1
            | M::Ud2
            | M::Bound
    ) && ins.flow_control() != FlowControl::Interrupt
}

fn addr_size32(ins: &Instruction, code32: bool) -> bool {
    match ins.code().op_code().address_size() {
        16 => false,
        32 => true,
        _ => code32,
    }
}

/// ES..GS to 0..5; anything else (no segment) to DS.
pub fn seg_index(r: Register) -> u8 {
    let n = r as usize;
    if (Register::ES as usize..=Register::GS as usize).contains(&n) {
        (n - Register::ES as usize) as u8
    } else {
        3
    }
}

/// A 16- or 32-bit GPR to its index, `NO_REG` otherwise.
pub fn gpr_index(r: Register) -> u8 {
    let n = r as usize;
    if (Register::EAX as usize..=Register::EDI as usize).contains(&n) {
        (n - Register::EAX as usize) as u8
    } else if (Register::AX as usize..=Register::DI as usize).contains(&n) {
        (n - Register::AX as usize) as u8
    } else {
        NO_REG
    }
}

/// A decoded block.
pub struct Block {
    pub eip: u32,
    pub code32: bool,
    /// CS base and limit the block was decoded under (the fast lookup
    /// matches on them).
    pub cs_base: u32,
    pub cs_limit: u32,
    /// Cleared when the block is invalidated, so stale references held by
    /// the fast lookup table are never run.
    pub alive: Cell<bool>,
    /// Physical page numbers (paddr >> 12) the block's bytes come from.
    pub pages: [u32; 2],
    pub ops: Vec<Decoded>,
    /// Times the block was entered (the translator's hotness counter).
    pub exec_count: Cell<u32>,
    /// `(tlb.epoch << 1) | user` when the TLB last confirmed the block's
    /// pages for the fast lookup (`u64::MAX`: never): while the TLB is
    /// unchanged the check is skipped.
    pub confirmed: Cell<u64>,
    /// False for code fetched from a page that is not plain memory (MMIO,
    /// a partial ROM, unmapped): such bytes can change without a write
    /// the code tracking sees, so the block is decoded afresh each time
    /// and never translated.
    pub cached: bool,
}

/// A multiplicative hasher for `BlockKey` (the default SipHash costs more
/// than the rest of a block lookup; keys are not attacker-chosen in a way
/// that matters for a per-guest cache).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline(always)]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64);
    }
    #[inline(always)]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    #[inline(always)]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline(always)]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockKey {
    pub paddr: u32,
    pub eip: u32,
    pub code32: bool,
}

/// Entries of the direct-mapped fast lookup table (by linear address).
const FAST_SLOTS: usize = 4096;

/// Decoded blocks by physical address, EIP and code size, plus a
/// direct-mapped table by linear address that skips the page translation
/// and the hash lookup when the TLB confirms the mapping is unchanged.
pub struct BlockCache {
    blocks: HashMap<BlockKey, Rc<Block>, BuildHasherDefault<KeyHasher>>,
    by_page: HashMap<u32, Vec<BlockKey>>,
    fast: Vec<Option<Rc<Block>>>,
    /// The last block decoded from memory that is not plain RAM/ROM (see
    /// `Block::cached`); it lives here only until the next such decode.
    uncached: Option<Rc<Block>>,
    pub decoded_blocks: u64,
    pub invalidations: u64,
    pub fast_hits: u64,
}

impl Default for BlockCache {
    fn default() -> Self {
        BlockCache {
            blocks: HashMap::default(),
            by_page: HashMap::new(),
            fast: vec![None; FAST_SLOTS],
            uncached: None,
            decoded_blocks: 0,
            invalidations: 0,
            fast_hits: 0,
        }
    }
}

#[inline(always)]
fn fast_slot(lin: u32) -> usize {
    ((lin ^ (lin >> 10)) as usize) & (FAST_SLOTS - 1)
}

impl BlockCache {
    pub fn new() -> BlockCache {
        BlockCache::default()
    }

    /// The fast path of `get`: the block last seen at this linear address,
    /// if it is alive, was decoded for the same CS base/limit/size and the
    /// TLB still maps its first page (and second, for a straddling block)
    /// to the same physical page for execution.
    #[inline(always)]
    fn fast_get(&mut self, cpu: &mut Cpu, lin: u32, eip: u32) -> Option<usize> {
        let slot = fast_slot(lin);
        let b = self.fast[slot].as_ref()?;
        let cs = &cpu.s.seg[CS];
        if b.eip != eip
            || b.cs_base != cs.base
            || b.cs_limit != cs.limit
            || b.code32 != cs.big()
            || !b.alive.get()
        {
            return None;
        }
        cpu.mmu.sync_map_changes();
        let user = (cpu.s.cpl == 3) as usize;
        let stamp = (cpu.mmu.tlb.epoch << 1) | user as u64;
        if b.confirmed.get() != stamp {
            let e = cpu.mmu.tlb.entry(user, lin);
            if e.exec != lin & 0xFFFF_F000 || e.paddr >> 12 != b.pages[0] {
                return None;
            }
            if b.pages[1] != b.pages[0] {
                let next = (lin & 0xFFFF_F000).wrapping_add(4096);
                let e = cpu.mmu.tlb.entry(user, next);
                if e.exec != next || e.paddr >> 12 != b.pages[1] {
                    return None;
                }
            }
            b.confirmed.set(stamp);
        }
        self.fast_hits += 1;
        Some(slot)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Looks up or decodes the block at the current CS:EIP.
    pub fn get(&mut self, cpu: &mut Cpu) -> Result<Rc<Block>> {
        self.get_ref(cpu).cloned()
    }

    /// `get` without taking a reference count: the block stays borrowed
    /// from the cache.
    #[inline(always)]
    pub fn get_ref(&mut self, cpu: &mut Cpu) -> Result<&Rc<Block>> {
        let eip = cpu.s.eip;
        let cs = &cpu.s.seg[CS];
        if eip > cs.limit {
            return Err(Exception::GP(0));
        }
        let lin = cs.base.wrapping_add(eip);
        match self.fast_get(cpu, lin, eip) {
            Some(slot) => Ok(self.fast[slot].as_ref().expect("fast_get hit")),
            None => self.get_slow(cpu, lin),
        }
    }

    /// The hash lookup (through a page walk) and decoding.
    #[inline(never)]
    fn get_slow(&mut self, cpu: &mut Cpu, lin: u32) -> Result<&Rc<Block>> {
        let eip = cpu.s.eip;
        let code32 = cpu.s.code32();
        let cs = cpu.s.seg[CS];
        let slot = fast_slot(lin);
        let ctx = cpu.s.paging_ctx();
        let paddr = cpu.mmu.translate(&ctx, lin, mmu::Access::Execute)?;
        let key = BlockKey { paddr, eip, code32 };
        if let Some(b) = self.blocks.get(&key) {
            let b = b.clone();
            if b.cs_base == cs.base
                && b.cs_limit == cs.limit
                && self.second_page_current(cpu, &b, lin)
            {
                return Ok(self.fast[slot].insert(b));
            }
            // Decoded under another CS limit, or the straddling tail now
            // maps elsewhere: decode afresh.
            self.remove(key);
        }
        let mut block = decode_block(cpu, eip, lin, paddr, code32)?;
        self.decoded_blocks += 1;
        if !block
            .pages
            .iter()
            .all(|&p| cpu.mmu.is_plain_code_page(p << 12))
        {
            block.cached = false;
            return Ok(self.uncached.insert(Rc::new(block)));
        }
        let block = Rc::new(block);
        // Only the block's own bytes count as code: writes to data that
        // shares the page (real-mode programs mix them) do not invalidate.
        let total: u32 = block.ops.iter().map(|d| d.ins.len() as u32).sum();
        let first = total.min(4096 - (paddr & 0xFFF));
        cpu.mmu.mark_code_range(paddr, first);
        self.by_page.entry(block.pages[0]).or_default().push(key);
        if block.pages[1] != block.pages[0] {
            cpu.mmu.mark_code_range(block.pages[1] << 12, total - first);
            self.by_page.entry(block.pages[1]).or_default().push(key);
        }
        self.blocks.insert(key, block.clone());
        Ok(self.fast[slot].insert(block))
    }

    /// Whether a block's straddling tail still comes from the page it was
    /// decoded from.
    fn second_page_current(&mut self, cpu: &mut Cpu, b: &Block, lin: u32) -> bool {
        if b.pages[1] == b.pages[0] {
            return true;
        }
        let next = (lin & 0xFFFF_F000).wrapping_add(4096);
        let ctx = cpu.s.paging_ctx();
        matches!(cpu.mmu.translate(&ctx, next, mmu::Access::Execute), Ok(p) if p >> 12 == b.pages[1])
    }

    fn remove(&mut self, key: BlockKey) {
        if let Some(b) = self.blocks.remove(&key) {
            b.alive.set(false);
            self.invalidations += 1;
        }
    }

    /// Drops every block with bytes on physical page `page` (paddr >> 12).
    pub fn invalidate_page(&mut self, page: u32) {
        if let Some(keys) = self.by_page.remove(&page) {
            for k in keys {
                self.remove(k);
            }
        }
    }

    pub fn clear(&mut self) {
        for b in self.blocks.values() {
            b.alive.set(false);
        }
        self.blocks.clear();
        self.by_page.clear();
        self.fast.iter_mut().for_each(|f| *f = None);
    }
}

fn decode_block(cpu: &mut Cpu, eip: u32, lin: u32, paddr: u32, code32: bool) -> Result<Block> {
    let limit = cpu.s.seg[CS].limit;
    let bitness = if code32 { 32 } else { 16 };
    let page_left = 4096 - (lin & 0xFFF);
    // Bytes we may fetch without crossing the CS limit.
    let limit_left = (limit - eip) as u64 + 1;
    let n = (page_left as u64).min(limit_left) as usize;
    // Fetch at most FETCH_CAP bytes: a block rarely needs more, and
    // copying (and zeroing) the rest of the page per decode was a visible
    // cost where code pages are re-decoded often.
    let capped = n > FETCH_CAP;
    let n = n.min(FETCH_CAP);
    let mut buf = [0u8; FETCH_CAP];
    cpu.mmu.phys.read_bytes(paddr, &mut buf[..n]);
    let mut ops = Vec::with_capacity(16);
    let mut pages = [paddr >> 12, paddr >> 12];
    let mut decoder = Decoder::with_ip(bitness, &buf[..n], eip as u64, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    let mut pos = 0usize;
    while ops.len() < MAX_BLOCK_INSNS {
        if pos >= n {
            break;
        }
        decoder.decode_out(&mut ins);
        if decoder.last_error() == DecoderError::NoMoreBytes {
            if capped && !ops.is_empty() {
                // Runs past the fetch cap: the next block starts with it.
                break;
            }
            // The instruction runs past the page end or the CS limit.
            if (n as u64) < limit_left && (n as u32) == page_left {
                // Fetch the tail from the next page.
                let next_lin = lin.wrapping_add(page_left);
                let ctx = cpu.s.paging_ctx();
                let p1 = match cpu.mmu.translate(&ctx, next_lin, mmu::Access::Execute) {
                    Ok(p) => p,
                    Err(pf) if ops.is_empty() => return Err(pf.into()),
                    Err(_) => break,
                };
                let tail = n - pos;
                let more = ((limit_left - n as u64).min(15)) as usize;
                let mut small = [0u8; 32];
                small[..tail].copy_from_slice(&buf[pos..n]);
                cpu.mmu.phys.read_bytes(p1, &mut small[tail..tail + more]);
                let ip = eip.wrapping_add(pos as u32) as u64;
                let mut d2 =
                    Decoder::with_ip(bitness, &small[..tail + more], ip, DecoderOptions::NONE);
                d2.decode_out(&mut ins);
                if d2.last_error() == DecoderError::NoMoreBytes {
                    // Truncated by the CS limit.
                    if ops.is_empty() {
                        return Err(Exception::GP(0));
                    }
                    break;
                }
                pages[1] = p1 >> 12;
                ops.push(Decoded::new(ins, code32));
                break;
            }
            if ops.is_empty() {
                return Err(Exception::GP(0));
            }
            break;
        }
        pos += ins.len();
        let ends = ins.flow_control() != FlowControl::Next;
        ops.push(Decoded::new(ins, code32));
        if ends {
            break;
        }
    }
    Ok(Block {
        eip,
        code32,
        cs_base: cpu.s.seg[CS].base,
        cs_limit: limit,
        alive: Cell::new(true),
        pages,
        ops,
        exec_count: Cell::new(0),
        confirmed: Cell::new(u64::MAX),
        cached: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{asm16, TestMachine};
    use iced_x86::code_asm::*;

    fn decoded(code: &[u8]) -> Decoded {
        let mut dec = Decoder::with_ip(32, code, 0x1000, DecoderOptions::NONE);
        Decoded::new(dec.decode(), true)
    }

    #[test]
    fn only_register_only_instructions_skip_the_smc_check() {
        for pure in [&[0x01, 0xD8][..], &[0x40], &[0x0F, 0xA2], &[0x75, 0x00]] {
            let d = decoded(pure);
            assert!(!d.smc_check, "{}", d.ins);
        }
        for writes in [
            &[0x89, 0x06][..],   // mov [esi], eax
            &[0x50],             // push eax
            &[0xAA],             // stosb
            &[0xEE],             // out dx, al
            &[0x8E, 0xD8],       // mov ds, ax
            &[0x0F, 0x00, 0xD8], // ltr ax
            &[0xCD, 0x21],       // int 0x21
        ] {
            let d = decoded(writes);
            assert!(d.smc_check, "{}", d.ins);
        }
    }

    #[test]
    fn next_eip_wraps_in_16_bit_code() {
        let mut dec = Decoder::with_ip(16, &[0x90], 0xFFFF, DecoderOptions::NONE);
        assert_eq!(Decoded::new(dec.decode(), false).next_eip, 0);
    }

    #[test]
    fn data_writes_next_to_code_keep_its_blocks_and_code_writes_do_not() {
        // A loop storing into its own code page (CS = DS = 0x1000 here) at
        // a distance from the code, then patching an instruction ahead.
        let code = asm16(0, |a| {
            let mut top = a.create_label();
            a.mov(ax, 0x1000u32).unwrap();
            a.mov(ds, ax).unwrap();
            a.mov(cx, 200u32).unwrap();
            a.set_label(&mut top).unwrap();
            a.mov(word_ptr(0x800), cx).unwrap();
            a.inc(word_ptr(0x802)).unwrap();
            a.loop_(top).unwrap();
            a.mov(byte_ptr(0x7FF), 0u32).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.run();
        assert_eq!(m.mmu.phys.read_u16(0x10802), 200);
        assert_eq!(m.interp.cache.invalidations, 0, "data writes only");
        let decoded = m.interp.cache.decoded_blocks;
        assert!(decoded <= 4, "{decoded} decodes for a 200-iteration loop");

        // Self-modifying code still works: patch a routine already decoded.
        let code = asm16(0, |a| {
            a.call(0x20u64).unwrap();
            a.mov(byte_ptr(0x20).cs(), 0x43u32).unwrap(); // nop -> inc bx
            a.call(0x20u64).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.mmu.phys.write_bytes(0x10020, &[0x90, 0xC3]); // nop; ret
        m.run();
        assert_eq!(m.s.regs[crate::state::EBX] & 0xFFFF, 1, "patched code ran");
    }
}
