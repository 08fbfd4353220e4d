//! Guest-visible exceptions as values. A handler that faults returns
//! `Err(Exception)`; the engine restores EIP to the faulting instruction and
//! delivers it through the IDT (or IVT in real mode).

/// An architectural exception with its error code where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    DE,
    DB,
    BP,
    OF,
    BR,
    UD,
    NM,
    DF,
    TS(u16),
    NP(u16),
    SS(u16),
    GP(u16),
    PF { addr: u32, code: u32 },
    MF,
    AC,
    MC,
    XM,
}

impl Exception {
    pub fn vector(&self) -> u8 {
        match self {
            Exception::DE => 0,
            Exception::DB => 1,
            Exception::BP => 3,
            Exception::OF => 4,
            Exception::BR => 5,
            Exception::UD => 6,
            Exception::NM => 7,
            Exception::DF => 8,
            Exception::TS(_) => 10,
            Exception::NP(_) => 11,
            Exception::SS(_) => 12,
            Exception::GP(_) => 13,
            Exception::PF { .. } => 14,
            Exception::MF => 16,
            Exception::AC => 17,
            Exception::MC => 18,
            Exception::XM => 19,
        }
    }

    /// The error code pushed on the stack in protected mode, if any.
    pub fn error_code(&self) -> Option<u32> {
        match *self {
            Exception::DF | Exception::AC => Some(0),
            Exception::TS(c) | Exception::NP(c) | Exception::SS(c) | Exception::GP(c) => {
                Some(c as u32)
            }
            Exception::PF { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Contributory exceptions for the double-fault rules (SDM Vol. 3, 6.15).
    pub fn is_contributory(&self) -> bool {
        matches!(
            self,
            Exception::DE
                | Exception::TS(_)
                | Exception::NP(_)
                | Exception::SS(_)
                | Exception::GP(_)
        )
    }

    /// Faults (as opposed to traps) restart the faulting instruction.
    pub fn is_trap(&self) -> bool {
        matches!(self, Exception::BP | Exception::OF)
    }
}

impl From<mmu::PageFault> for Exception {
    #[inline]
    fn from(pf: mmu::PageFault) -> Self {
        Exception::PF {
            addr: pf.addr,
            code: pf.code,
        }
    }
}

pub type Result<T> = std::result::Result<T, Exception>;
