//! The memory layout shared by the host runner and the interpreter runner,
//! and the machine state a case starts from and ends in.
//!
//! Everything lives in one region at the same address in the host process
//! and in guest physical memory (below 16 MiB), so pointer registers are
//! identical on both sides. Offsets from the region base:
//!
//! | offset | what |
//! |---|---|
//! | 0x0000 | 64-bit entry stub (host only) |
//! | 0x0100 | 64-bit return stub (host only) |
//! | 0x0200 | 32-bit code: prologue, the instruction, epilogue (host) / the instruction, HLT (interpreter); for 16-bit cases the prologue ends in a far jump to 0x0C00 |
//! | 0x0900 | 32-bit epilogue of 16-bit cases (host only) |
//! | 0x0C00 | 16-bit code segment base: the instruction, then a far jump to 0x0900 (host) / HLT (interpreter) |
//! | 0x1000 | state block (host only) |
//! | 0x7E00..0x8100 | the stack window; ESP starts a little below 0x8000 |
//! | 0x10000 | DS = ES base (a 64 KiB data segment), compared window 0..0x400 |

pub const REGION_SIZE: usize = 0x20000;
pub const ENTRY64: u32 = 0x0000;
pub const RET64: u32 = 0x0100;
pub const ENTRY32: u32 = 0x0200;
pub const EPI32: u32 = 0x0900;
pub const CODE16: u32 = 0x0C00;
pub const STATE: u32 = 0x1000;
pub const STACK_WIN: u32 = 0x7E00;
pub const STACK_LEN: usize = 0x300;
pub const STACK_TOP: u32 = 0x8000;
pub const DATA: u32 = 0x10000;
pub const DATA_LEN: usize = 0x400;
/// Where memory operands point (offsets in the data segment): a band in
/// the middle of the window so that string ops, BT bit offsets and
/// CMPXCHG8B stay inside it.
pub const TARGET_LO: u32 = 0x100;
pub const TARGET_HI: u32 = 0x300;

// The pieces of the region must not overlap.
const _: () = {
    assert!(ENTRY32 + 0x700 <= EPI32);
    assert!(EPI32 + 0x300 <= CODE16);
    assert!(CODE16 + 0x400 <= STATE);
    assert!(STATE + 0x200 <= STACK_WIN);
    assert!(STACK_WIN + STACK_LEN as u32 <= DATA);
    assert!(STACK_TOP > STACK_WIN + 0x100 && STACK_TOP < STACK_WIN + STACK_LEN as u32);
    assert!((DATA as usize + 0x10000) <= REGION_SIZE);
    assert!(TARGET_HI as usize + 0x100 <= DATA_LEN);
};

/// Registers, flags and the two memory windows.
#[derive(Clone, PartialEq, Eq)]
pub struct MachineState {
    pub regs: [u32; 8],
    pub eflags: u32,
    pub data: [u8; DATA_LEN],
    pub stack: [u8; STACK_LEN],
}

impl Default for MachineState {
    fn default() -> Self {
        MachineState {
            regs: [0; 8],
            eflags: 2,
            data: [0; DATA_LEN],
            stack: [0; STACK_LEN],
        }
    }
}

impl std::fmt::Debug for MachineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.regs_line())
    }
}

pub const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

impl MachineState {
    /// A one-line register dump.
    pub fn regs_line(&self) -> String {
        let mut s = String::new();
        for (i, n) in REG_NAMES.iter().enumerate() {
            s += &format!("{n}={:08x} ", self.regs[i]);
        }
        s + &format!("fl={:08x}", self.eflags)
    }
}

/// The first differing offset of two byte windows and the bytes there.
pub fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_first() {
        assert_eq!(first_diff(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(first_diff(&[1, 2, 3], &[1, 5, 4]), Some(1));
    }
}
