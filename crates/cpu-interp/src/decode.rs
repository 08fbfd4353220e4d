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
//! facts (width, memory operand, address size) so execution does no table
//! lookups.

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
    pub mem: MemOperand,
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
        Decoded {
            ins,
            handler: handler_for(&ins),
            width,
            msize,
            addr32,
            op32,
            mem,
        }
    }
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
    fn fast_get(&mut self, cpu: &mut Cpu, lin: u32, eip: u32, code32: bool) -> Option<Rc<Block>> {
        let b = self.fast[fast_slot(lin)].as_ref()?;
        let cs = &cpu.s.seg[CS];
        if b.eip != eip
            || b.cs_base != cs.base
            || b.cs_limit != cs.limit
            || b.code32 != code32
            || !b.alive.get()
        {
            return None;
        }
        cpu.mmu.sync_map_changes();
        let user = (cpu.s.cpl == 3) as usize;
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
        self.fast_hits += 1;
        Some(b.clone())
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Looks up or decodes the block at the current CS:EIP.
    pub fn get(&mut self, cpu: &mut Cpu) -> Result<Rc<Block>> {
        let eip = cpu.s.eip;
        let code32 = cpu.s.code32();
        let cs = cpu.s.seg[CS];
        if eip > cs.limit {
            return Err(Exception::GP(0));
        }
        let lin = cs.base.wrapping_add(eip);
        if let Some(b) = self.fast_get(cpu, lin, eip, code32) {
            return Ok(b);
        }
        let ctx = cpu.s.paging_ctx();
        let paddr = cpu.mmu.translate(&ctx, lin, mmu::Access::Execute)?;
        let key = BlockKey { paddr, eip, code32 };
        if let Some(b) = self.blocks.get(&key) {
            let b = b.clone();
            if b.cs_base == cs.base
                && b.cs_limit == cs.limit
                && self.second_page_current(cpu, &b, lin)
            {
                self.fast[fast_slot(lin)] = Some(b.clone());
                return Ok(b);
            }
            // Decoded under another CS limit, or the straddling tail now
            // maps elsewhere: decode afresh.
            self.remove(key);
        }
        let block = Rc::new(decode_block(cpu, eip, lin, paddr, code32)?);
        self.decoded_blocks += 1;
        for (i, &p) in block.pages.iter().enumerate() {
            if i == 1 && p == block.pages[0] {
                break;
            }
            cpu.mmu.mark_code_page(p << 12);
            self.by_page.entry(p).or_default().push(key);
        }
        self.blocks.insert(key, block.clone());
        self.fast[fast_slot(lin)] = Some(block.clone());
        Ok(block)
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
    let mut buf = [0u8; 4096 + 16];
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
    })
}
