//! The translation cache: translated blocks by key in a `hashbrown` map,
//! their code in one [`CodeBuf`], per-physical-page lists for
//! self-modifying-code invalidation, the chaining records (which exit of
//! which block is patched into which block), and the direct-mapped jump
//! cache behind `lookup()`.
//!
//! Block ids index a slab and are never reused until a full flush, so a
//! stale id in a page list or chaining record is harmless.

use std::rc::Rc;

use cpu_interp::decode::Block;
use cpu_interp::state::CpuState;
use hashbrown::HashMap;
use mmu::Mmu;

use crate::codebuf::CodeBuf;
use crate::key::Key;

/// A direct exit of a translated block: a patchable `jmp rel32` at `site`
/// that initially goes to its exit stub at `stub`, and in blocks with a
/// budget pre-check a 5-byte NOP at `fast` (before the flags are saved)
/// that chaining may turn into a jump (see `emit::ExitSite`).
#[derive(Clone, Debug)]
pub struct ExitRec {
    pub site: usize,
    pub stub: usize,
    pub target_eip: u32,
    pub fast: Option<usize>,
    /// The block this exit is patched to.
    pub chained: Option<u32>,
}

/// One translated block.
pub struct TransBlock {
    pub key: Key,
    /// Offset of the entry point in the code buffer.
    pub entry: usize,
    /// Offset of the code after the entry's budget check.
    pub body: usize,
    /// Flags the block may observe on entry (0: never).
    pub live_in: u32,
    pub len: usize,
    /// The decoded block; the code holds pointers to its `Decoded`s.
    pub block: Rc<Block>,
    pub pages: [u32; 2],
    pub exits: Vec<ExitRec>,
    /// (block, exit index) of the jumps patched into this block.
    pub incoming: Vec<(u32, u32)>,
}

/// log2 of the jump-cache entries.
pub const JC_BITS: u32 = 12;
pub const JC_SIZE: usize = 1 << JC_BITS;

/// One jump-cache entry, probed inline by generated code (layout pinned):
/// the full key of a translation and its host entry address. `mode ==
/// u32::MAX` marks an empty entry (real mode words use 20 bits).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JcEntry {
    pub paddr: u32,
    pub eip: u32,
    pub cs_base: u32,
    pub cs_limit: u32,
    pub mode: u32,
    pub _pad: u32,
    pub ptr: u64,
}

impl JcEntry {
    pub const EMPTY: JcEntry = JcEntry {
        paddr: 0,
        eip: 0,
        cs_base: 0,
        cs_limit: 0,
        mode: u32::MAX,
        _pad: 0,
        ptr: 0,
    };
}

const _: () = assert!(std::mem::size_of::<JcEntry>() == 32);

/// Jump-cache slot of a physical address (generated code computes the
/// same: `(paddr ^ (paddr >> JC_BITS)) & (JC_SIZE - 1)`).
pub fn jc_index(paddr: u32) -> usize {
    ((paddr ^ (paddr >> JC_BITS)) as usize) & (JC_SIZE - 1)
}

/// Absolute addresses of the shared stubs at the start of the code buffer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stubs {
    pub enter: usize,
    pub epilogue: usize,
    pub exit_generic: usize,
    pub indirect_tail: usize,
    /// Shared callout sequence (`call`ed, see `emit::stubs`).
    pub callout: usize,
    /// The same for [`crate::runtime::callout_light`].
    pub callout_light: usize,
    /// Shared tail of direct-exit stubs and of refused block entries.
    pub direct_exit: usize,
    pub entry_exit: usize,
    /// Address of the jump cache (`JcEntry` array) probed inline.
    pub jc: usize,
    /// Offset in the buffer where block code starts.
    pub end: usize,
}

pub struct Cache {
    pub map: HashMap<Key, u32>,
    pub blocks: Vec<Option<TransBlock>>,
    by_page: HashMap<u32, Vec<u32>>,
    pub code: CodeBuf,
    pub stubs: Stubs,
    jc: Box<[JcEntry]>,
    pub invalidations: u64,
    pub flushes: u64,
}

/// Size of the code buffer.
pub const CODE_SIZE: usize = 32 << 20;

impl Default for Cache {
    fn default() -> Self {
        Self::new()
    }
}

impl Cache {
    pub fn new() -> Cache {
        Cache::with_size(CODE_SIZE)
    }

    pub fn with_size(size: usize) -> Cache {
        let mut code = CodeBuf::new(size).expect("map the translation buffer");
        let jc = vec![JcEntry::EMPTY; JC_SIZE].into_boxed_slice();
        let mut stubs = crate::emit::stubs::emit_stubs(&mut code);
        stubs.jc = jc.as_ptr() as usize;
        Cache {
            map: HashMap::new(),
            blocks: Vec::new(),
            by_page: HashMap::new(),
            code,
            stubs,
            jc,
            invalidations: 0,
            flushes: 0,
        }
    }

    /// Address of the jump cache (stable for the life of the cache).
    pub fn jc_base(&self) -> usize {
        self.jc.as_ptr() as usize
    }

    /// The id of the translation for `key`.
    pub fn get(&self, key: &Key) -> Option<u32> {
        self.map.get(key).copied()
    }

    pub fn block(&self, id: u32) -> Option<&TransBlock> {
        self.blocks.get(id as usize).and_then(|b| b.as_ref())
    }

    /// Host address of the entry of block `id`.
    pub fn entry_addr(&self, id: u32) -> Option<usize> {
        self.block(id).map(|b| self.code.addr(b.entry))
    }

    /// The id the next inserted block will get.
    pub fn next_id(&self) -> u32 {
        self.blocks.len() as u32
    }

    /// Records a translated block whose code is already in the buffer.
    pub fn insert(&mut self, tb: TransBlock) -> u32 {
        let id = self.next_id();
        for (i, &p) in tb.pages.iter().enumerate() {
            if i == 1 && p == tb.pages[0] {
                break;
            }
            self.by_page.entry(p).or_default().push(id);
        }
        if let Some(old) = self.map.insert(tb.key, id) {
            self.remove(old);
            self.map.insert(tb.key, id);
        }
        self.blocks.push(Some(tb));
        id
    }

    /// Drops block `id`: out of the map, every jump into it unpatched,
    /// its own chaining records dropped, the jump cache cleared.
    pub fn remove(&mut self, id: u32) {
        let Some(tb) = self.blocks.get_mut(id as usize).and_then(|b| b.take()) else {
            return;
        };
        if self.map.get(&tb.key) == Some(&id) {
            self.map.remove(&tb.key);
        }
        for &(src, slot) in &tb.incoming {
            if let Some(Some(s)) = self.blocks.get_mut(src as usize) {
                let e = &mut s.exits[slot as usize];
                if e.chained == Some(id) {
                    e.chained = None;
                    let (site, stub) = (e.site, e.stub);
                    self.code.patch_jmp(site, stub);
                    if let Some(fast) = e.fast {
                        self.code.patch_jmp_or_nop(fast, None);
                    }
                }
            }
        }
        for (slot, e) in tb.exits.iter().enumerate() {
            if let Some(t) = e.chained {
                if let Some(Some(tgt)) = self.blocks.get_mut(t as usize) {
                    tgt.incoming
                        .retain(|&(s, k)| !(s == id && k == slot as u32));
                }
            }
        }
        self.jc.fill(JcEntry::EMPTY);
        self.invalidations += 1;
    }

    /// Drops every translation with code on physical page `page`.
    pub fn invalidate_page(&mut self, page: u32) {
        if let Some(ids) = self.by_page.remove(&page) {
            for id in ids {
                self.remove(id);
            }
        }
    }

    /// Patches exit `slot` of block `src` to jump to block `dst`: if the
    /// exit has a fast jump (its block checked the budget), past `dst`'s
    /// budget check, and past the flag save too if `dst` never reads
    /// incoming flags; else to `dst`'s entry.
    pub fn chain(&mut self, src: u32, slot: u32, dst: u32) -> bool {
        let Some((dst_entry, dst_body, dst_live)) =
            self.block(dst).map(|b| (b.entry, b.body, b.live_in))
        else {
            return false;
        };
        let Some(Some(s)) = self.blocks.get_mut(src as usize) else {
            return false;
        };
        let Some(e) = s.exits.get_mut(slot as usize) else {
            return false;
        };
        if e.chained.is_some() {
            return false;
        }
        e.chained = Some(dst);
        // An exit with a fast jump belongs to a block that checked the
        // budget for its whole length: the target's own check would pass,
        // so even the flag-saving path may skip it.
        match e.fast {
            Some(fast) if dst_live == 0 => self.code.patch_jmp_or_nop(fast, Some(dst_body)),
            Some(_) => self.code.patch_jmp(e.site, dst_body),
            None => self.code.patch_jmp(e.site, dst_entry),
        }
        if let Some(Some(d)) = self.blocks.get_mut(dst as usize) {
            d.incoming.push((src, slot));
        }
        true
    }

    /// Drops everything and reuses the buffer.
    pub fn flush(&mut self) {
        self.map.clear();
        self.blocks.clear();
        self.by_page.clear();
        self.jc.fill(JcEntry::EMPTY);
        self.code.used = self.stubs.end;
        self.flushes += 1;
    }

    /// The translation for the current CS:EIP, through the jump cache.
    pub fn lookup_state(&mut self, s: &CpuState, mmu: &mut Mmu) -> Option<*const u8> {
        let key = Key::current(s, mmu)?;
        let e = JcEntry {
            paddr: key.paddr,
            eip: key.eip,
            cs_base: key.cs_base,
            cs_limit: key.cs_limit,
            mode: key.mode,
            _pad: 0,
            ptr: 0,
        };
        let i = jc_index(key.paddr);
        let cur = self.jc[i];
        if (JcEntry { ptr: 0, ..cur }) == e {
            return Some(cur.ptr as *const u8);
        }
        let id = self.get(&key)?;
        let p = self.entry_addr(id)?;
        self.jc[i] = JcEntry { ptr: p as u64, ..e };
        Some(p as *const u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::harness::{TestMachine, CODE_BASE};

    fn block_at(m: &mut TestMachine) -> Rc<Block> {
        m.decoded_block().unwrap()
    }

    fn tb(key: Key, block: Rc<Block>, entry: usize, site: usize) -> TransBlock {
        TransBlock {
            key,
            entry,
            body: entry,
            live_in: crate::liveness::ALL,
            len: 16,
            pages: block.pages,
            block,
            exits: vec![ExitRec {
                site,
                stub: site + 8,
                target_eip: 0,
                fast: None,
                chained: None,
            }],
            incoming: Vec::new(),
        }
    }

    #[test]
    fn chain_and_unchain_on_invalidation() {
        let mut m = TestMachine::flat32(&[0x90, 0xF4]);
        let b = block_at(&mut m);
        let mut c = Cache::with_size(1 << 16);
        let base = c.code.used;
        // Two fake blocks, each a `jmp rel32` site followed by its stub.
        let mut code = vec![0xE9, 3, 0, 0, 0, 0xCC, 0xCC, 0xCC, 0xC3];
        code.resize(64, 0xCC);
        c.code.append(&code).unwrap();
        c.code.append(&code).unwrap();
        let k1 = Key::of(&m.s, CODE_BASE);
        let k2 = Key { eip: 1, ..k1 };
        let a = c.insert(tb(k1, b.clone(), base, base));
        let d = c.insert(tb(k2, b, base + 64, base + 64));
        assert!(c.chain(a, 0, d));
        assert!(!c.chain(a, 0, d), "already chained");
        let rel = i32::from_le_bytes(c.code.bytes(base + 1, 4).try_into().unwrap());
        assert_eq!(base as i64 + 5 + rel as i64, (base + 64) as i64);
        c.invalidate_page(CODE_BASE >> 12);
        assert!(c.get(&k1).is_none() && c.get(&k2).is_none());
        assert_eq!(c.invalidations, 2);
        c.flush();
        assert_eq!(c.code.used, c.stubs.end);
    }

    #[test]
    fn unchaining_restores_the_stub_jump() {
        let mut m = TestMachine::flat32(&[0x90, 0xF4]);
        let b = block_at(&mut m);
        let mut c = Cache::with_size(1 << 16);
        let base = c.code.used;
        let mut code = vec![0xE9, 3, 0, 0, 0];
        code.resize(128, 0xCC);
        c.code.append(&code).unwrap();
        let k1 = Key::of(&m.s, CODE_BASE);
        let k2 = Key {
            paddr: 0x20000,
            ..k1
        };
        let a = c.insert(tb(k1, b.clone(), base, base));
        let mut t = tb(k2, b, base + 64, base + 64);
        t.pages = [0x20, 0x20];
        let d = c.insert(t);
        assert!(c.chain(a, 0, d));
        c.invalidate_page(0x20);
        assert_eq!(
            c.code.bytes(base, 5),
            vec![0xE9, 3, 0, 0, 0],
            "back to the stub"
        );
        assert!(c.block(a).unwrap().exits[0].chained.is_none());
    }

    #[test]
    fn fast_exits_chain_past_the_entry_and_unchain_to_a_nop() {
        let mut m = TestMachine::flat32(&[0x90, 0xF4]);
        let b = block_at(&mut m);
        let mut c = Cache::with_size(1 << 16);
        let base = c.code.used;
        // Block a: a NOP5 fast site at +0, its jmp site at +5 (to +16).
        let mut code = crate::codebuf::NOP5.to_vec();
        code.extend([0xE9, 6, 0, 0, 0]);
        code.resize(128, 0xCC);
        c.code.append(&code).unwrap();
        let k1 = Key::of(&m.s, CODE_BASE);
        let k2 = Key {
            paddr: 0x20000,
            ..k1
        };
        let mut ta = tb(k1, b.clone(), base, base + 5);
        ta.exits[0].stub = base + 16;
        ta.exits[0].fast = Some(base);
        let a = c.insert(ta);
        let mut td = tb(k2, b.clone(), base + 64, base + 64);
        td.body = base + 72;
        td.live_in = 0;
        td.pages = [0x20, 0x20];
        let d = c.insert(td);
        assert!(c.chain(a, 0, d));
        let rel = i32::from_le_bytes(c.code.bytes(base + 1, 4).try_into().unwrap());
        assert_eq!(c.code.bytes(base, 1), vec![0xE9]);
        assert_eq!(
            base as i64 + 5 + rel as i64,
            (base + 72) as i64,
            "to the body"
        );
        c.invalidate_page(0x20);
        assert_eq!(c.code.bytes(base, 5), crate::codebuf::NOP5.to_vec());
        assert!(c.block(a).unwrap().exits[0].chained.is_none());
        // A target that reads its incoming flags: the saving jump goes to
        // its body (the source checked the budget).
        c.flush();
        let base = c.code.used;
        c.code.append(&code).unwrap();
        let mut ta = tb(k1, b.clone(), base, base + 5);
        ta.exits[0].stub = base + 16;
        ta.exits[0].fast = Some(base);
        let a = c.insert(ta);
        let mut td = tb(k2, b, base + 64, base + 64);
        td.body = base + 72;
        let d = c.insert(td);
        assert!(c.chain(a, 0, d));
        assert_eq!(c.code.bytes(base, 5), crate::codebuf::NOP5.to_vec());
        let rel = i32::from_le_bytes(c.code.bytes(base + 6, 4).try_into().unwrap());
        assert_eq!(base as i64 + 10 + rel as i64, (base + 72) as i64);
    }

    #[test]
    fn jump_cache_index_is_in_range() {
        for p in [0u32, 0x1234_5678, u32::MAX] {
            assert!(jc_index(p) < JC_SIZE);
        }
        assert_eq!(std::mem::size_of::<JcEntry>(), 32);
    }
}
