//! `CpuState`: the architectural state of one i686 CPU as plain `#[repr(C)]`
//! data. The translator addresses fields with `core::mem::offset_of!`, so
//! field order is part of the contract between `cpu-interp` and `dbt`.
//!
//! Not modelled here: microarchitectural state (caches, pipelines), SMM,
//! local APIC, machine-check banks.

use crate::flags::LazyFlags;
use crate::x87::FpuState;

/// Indices into `CpuState::regs`, in x86 encoding order.
pub const EAX: usize = 0;
pub const ECX: usize = 1;
pub const EDX: usize = 2;
pub const EBX: usize = 3;
pub const ESP: usize = 4;
pub const EBP: usize = 5;
pub const ESI: usize = 6;
pub const EDI: usize = 7;

/// Indices into `CpuState::seg`, in x86 encoding order.
pub const ES: usize = 0;
pub const CS: usize = 1;
pub const SS: usize = 2;
pub const DS: usize = 3;
pub const FS: usize = 4;
pub const GS: usize = 5;

/// EFLAGS bits.
pub mod fl {
    pub const CF: u32 = 1 << 0;
    pub const PF: u32 = 1 << 2;
    pub const AF: u32 = 1 << 4;
    pub const ZF: u32 = 1 << 6;
    pub const SF: u32 = 1 << 7;
    pub const TF: u32 = 1 << 8;
    pub const IF: u32 = 1 << 9;
    pub const DF: u32 = 1 << 10;
    pub const OF: u32 = 1 << 11;
    pub const IOPL: u32 = 3 << 12;
    pub const NT: u32 = 1 << 14;
    pub const RF: u32 = 1 << 16;
    pub const VM: u32 = 1 << 17;
    pub const AC: u32 = 1 << 18;
    pub const VIF: u32 = 1 << 19;
    pub const VIP: u32 = 1 << 20;
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic flags.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
    /// Bit 1 always reads as one.
    pub const FIXED1: u32 = 1 << 1;
    /// Bits software can ever change on an i686 with CPUID (AC, ID).
    pub const WRITABLE: u32 = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
}

/// CR0 bits.
pub mod cr0 {
    pub const PE: u32 = 1 << 0;
    pub const MP: u32 = 1 << 1;
    pub const EM: u32 = 1 << 2;
    pub const TS: u32 = 1 << 3;
    pub const ET: u32 = 1 << 4;
    pub const NE: u32 = 1 << 5;
    pub const WP: u32 = 1 << 16;
    pub const AM: u32 = 1 << 18;
    pub const NW: u32 = 1 << 29;
    pub const CD: u32 = 1 << 30;
    pub const PG: u32 = 1 << 31;
}

/// CR4 bits the CPU implements.
pub mod cr4 {
    pub const VME: u32 = 1 << 0;
    pub const PVI: u32 = 1 << 1;
    pub const TSD: u32 = 1 << 2;
    pub const DE: u32 = 1 << 3;
    pub const PSE: u32 = 1 << 4;
    pub const PGE: u32 = 1 << 7;
    pub const PCE: u32 = 1 << 8;
    pub const OSFXSR: u32 = 1 << 9;
    pub const OSXMMEXCPT: u32 = 1 << 10;
}

/// A segment register with its hidden descriptor cache.
///
/// `attr` holds descriptor bits 40..55 (access byte in bits 0..7, the
/// AVL/L/D-B/G nibble in bits 12..15); `limit` is the byte-granular limit
/// after applying G. `access` caches what the current mode allows
/// (`SEG_READ`/`SEG_WRITE`/`SEG_EXEC`), computed when the register is loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub selector: u16,
    pub attr: u16,
    pub base: u32,
    pub limit: u32,
    pub access: u32,
}

pub const SEG_READ: u32 = 1;
pub const SEG_WRITE: u32 = 2;
pub const SEG_EXEC: u32 = 4;

impl Segment {
    /// A real-mode / V86 segment: base = selector * 16, 64 KiB limit unless
    /// the cached limit is kept (unreal mode keeps the old limit; callers
    /// decide). DPL is 3 in V86 mode.
    pub fn real(selector: u16, dpl: u8) -> Segment {
        Segment {
            selector,
            // present, S=1, data read/write accessed, DPL
            attr: 0x93 | ((dpl as u16 & 3) << 5),
            base: (selector as u32) << 4,
            limit: 0xFFFF,
            access: SEG_READ | SEG_WRITE | SEG_EXEC,
        }
    }
    pub fn dpl(&self) -> u8 {
        ((self.attr >> 5) & 3) as u8
    }
    pub fn present(&self) -> bool {
        self.attr & 0x80 != 0
    }
    /// S bit: code or data (as opposed to system) descriptor.
    pub fn is_code_or_data(&self) -> bool {
        self.attr & 0x10 != 0
    }
    pub fn is_code(&self) -> bool {
        self.attr & 0x18 == 0x18
    }
    pub fn conforming(&self) -> bool {
        self.is_code() && self.attr & 0x04 != 0
    }
    pub fn expand_down(&self) -> bool {
        self.attr & 0x1C == 0x14
    }
    /// D/B bit: 32-bit code segment, 32-bit stack, or 4 GiB expand-down bound.
    pub fn big(&self) -> bool {
        self.attr & 0x4000 != 0
    }
    pub fn rpl(&self) -> u8 {
        (self.selector & 3) as u8
    }
}

/// GDTR / IDTR.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescTable {
    pub base: u32,
    pub limit: u32,
}

/// The model-specific registers the CPU implements.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msrs {
    pub sysenter_cs: u32,
    pub sysenter_esp: u32,
    pub sysenter_eip: u32,
    pub apic_base: u32,
    pub mtrr_def_type: u32,
    pub pat: u64,
}

/// Why the CPU is not executing instructions.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunState {
    #[default]
    Running = 0,
    /// HLT: waiting for an unmasked interrupt.
    Halted = 1,
    /// Triple fault or explicit shutdown: the machine must reset.
    Shutdown = 2,
}

/// The architectural state of the CPU.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct CpuState {
    pub regs: [u32; 8],
    pub eip: u32,
    /// EFLAGS. The six arithmetic bits are stale while `flags.op` is not
    /// `FlagOp::None`; read them with [`CpuState::get_eflags`].
    pub eflags: u32,
    pub flags: LazyFlags,
    pub seg: [Segment; 6],
    pub ldtr: Segment,
    pub tr: Segment,
    pub gdtr: DescTable,
    pub idtr: DescTable,
    pub cr0: u32,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub dr: [u32; 8],
    /// Current privilege level (CS.RPL in protected mode, 3 in V86, 0 in real mode).
    pub cpl: u8,
    pub run_state: RunState,
    /// Interrupts are inhibited for one instruction after MOV SS/POP SS/STI.
    pub int_shadow: bool,
    pub _pad0: u8,
    /// Set by handlers that change state a decoded block depends on (mode,
    /// CS, paging, IF): the engine must stop running the current block.
    pub exit_request: u32,
    pub tsc_offset: u64,
    /// Instructions retired since reset; the machine's virtual clock and the
    /// TSC derive from it.
    pub icount: u64,
    pub msr: Msrs,
    /// Nested exception tracking for double/triple fault detection.
    pub fault_depth: u32,
    /// A20 line as last requested by the guest (mirrors mmu's mask).
    pub _pad1: u32,
    pub fpu: FpuState,
}

impl Default for CpuState {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuState {
    /// The state after RESET: real mode, CS:IP = F000:FFF0 with CS base
    /// 0xFFFF0000 so the first fetch comes from the top of the 4 GiB space.
    pub fn new() -> CpuState {
        let mut s = CpuState {
            regs: [0; 8],
            eip: 0xFFF0,
            eflags: fl::FIXED1,
            flags: LazyFlags::default(),
            seg: [Segment::real(0, 0); 6],
            ldtr: Segment {
                attr: 0x82,
                limit: 0xFFFF,
                ..Segment::default()
            },
            tr: Segment {
                attr: 0x8B,
                limit: 0xFFFF,
                ..Segment::default()
            },
            gdtr: DescTable {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: DescTable {
                base: 0,
                limit: 0x3FF,
            },
            cr0: cr0::ET | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            dr: [0, 0, 0, 0, 0xFFFF0FF0, 0x400, 0xFFFF0FF0, 0x400],
            cpl: 0,
            run_state: RunState::Running,
            int_shadow: false,
            _pad0: 0,
            exit_request: 0,
            tsc_offset: 0,
            icount: 0,
            msr: Msrs {
                apic_base: 0,
                ..Msrs::default()
            },
            fault_depth: 0,
            _pad1: 0,
            fpu: FpuState::default(),
        };
        s.seg[CS] = Segment {
            selector: 0xF000,
            attr: 0x9B,
            base: 0xFFFF_0000,
            limit: 0xFFFF,
            access: SEG_READ | SEG_WRITE | SEG_EXEC,
        };
        // EDX holds the processor signature after reset.
        s.regs[EDX] = crate::cpuid::SIGNATURE;
        s
    }

    pub fn protected_mode(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }
    pub fn v86(&self) -> bool {
        self.eflags & fl::VM != 0
    }
    pub fn real_mode(&self) -> bool {
        !self.protected_mode()
    }
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }
    pub fn iopl(&self) -> u8 {
        ((self.eflags >> 12) & 3) as u8
    }
    /// 32-bit default operand size (CS.D).
    pub fn code32(&self) -> bool {
        self.seg[CS].big()
    }
    /// 32-bit stack (SS.B).
    pub fn stack32(&self) -> bool {
        self.seg[SS].big()
    }

    /// The full EFLAGS value with lazy arithmetic flags materialised.
    pub fn get_eflags(&self) -> u32 {
        if self.flags.is_lazy() {
            (self.eflags & !fl::ARITH) | self.flags.arith(self.eflags)
        } else {
            self.eflags
        }
    }

    /// Writes EFLAGS without any privilege filtering (callers filter).
    pub fn set_eflags_raw(&mut self, v: u32) {
        self.flags.clear();
        self.eflags = (v & fl::WRITABLE) | fl::FIXED1;
    }

    /// Materialises the lazy flags into `eflags`.
    pub fn settle_flags(&mut self) {
        if self.flags.is_lazy() {
            self.eflags = self.get_eflags();
            self.flags.clear();
        }
    }

    pub fn cf(&self) -> bool {
        self.flags.cf(self.eflags)
    }
    pub fn zf(&self) -> bool {
        self.flags.zf(self.eflags)
    }
    pub fn sf(&self) -> bool {
        self.flags.sf(self.eflags)
    }
    pub fn of(&self) -> bool {
        self.flags.of(self.eflags)
    }
    pub fn pf(&self) -> bool {
        self.flags.pf(self.eflags)
    }
    pub fn af(&self) -> bool {
        self.flags.af(self.eflags)
    }
    pub fn df(&self) -> bool {
        self.eflags & fl::DF != 0
    }
    pub fn iflag(&self) -> bool {
        self.eflags & fl::IF != 0
    }

    /// Sets or clears one arithmetic flag, settling the lazy record first.
    pub fn set_flag(&mut self, bit: u32, on: bool) {
        self.settle_flags();
        if on {
            self.eflags |= bit;
        } else {
            self.eflags &= !bit;
        }
    }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc).
    #[inline]
    pub fn cond(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r ^ (cc & 1 != 0)
    }

    /// The paging context the mmu needs for an access at the current CPL.
    #[inline(always)]
    pub fn paging_ctx(&self) -> mmu::PagingCtx {
        mmu::PagingCtx {
            cr0: self.cr0,
            cr3: self.cr3,
            cr4: self.cr4,
            cpl: self.cpl,
        }
    }

    pub fn tsc(&self) -> u64 {
        self.icount.wrapping_add(self.tsc_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_state() {
        let s = CpuState::new();
        assert_eq!(s.seg[CS].base + s.eip, 0xFFFF_FFF0);
        assert!(s.real_mode());
        assert_eq!(s.get_eflags(), 2);
    }

    #[test]
    fn conditions() {
        let mut s = CpuState::new();
        s.set_eflags_raw(fl::ZF | fl::CF);
        assert!(s.cond(0x4)); // E
        assert!(!s.cond(0x5)); // NE
        assert!(s.cond(0x2)); // B
        assert!(s.cond(0x6)); // BE
        assert!(!s.cond(0x7)); // A
        assert!(s.cond(0xE)); // LE
        s.set_eflags_raw(fl::SF);
        assert!(s.cond(0xC)); // L
        s.set_eflags_raw(fl::SF | fl::OF);
        assert!(!s.cond(0xC));
        assert!(s.cond(0xF)); // G
    }
}
