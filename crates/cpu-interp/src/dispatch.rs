//! The handler table: one function pointer per `iced_x86::Code`, filled
//! once by each instruction family's `register` function. Codes no family
//! claims (SSE, AVX, 64-bit-only, instructions newer than the i686) raise
//! #UD, as does anything iced decodes as invalid.

use std::sync::OnceLock;

use iced_x86::{Code, Instruction};

use crate::cpu::Cpu;
use crate::decode::Decoded;
use crate::exception::{Exception, Result};

/// An instruction handler. The engine has already set EIP to the next
/// instruction; a handler that faults returns `Err` and the engine puts EIP
/// back.
pub type Handler = fn(&mut Cpu<'_>, &Decoded) -> Result<()>;

/// The table being filled by the families.
pub struct Table {
    handlers: Vec<Handler>,
}

impl Table {
    pub fn set(&mut self, code: Code, h: Handler) {
        self.handlers[code as usize] = h;
    }

    pub fn set_all(&mut self, codes: &[Code], h: Handler) {
        for &c in codes {
            self.set(c, h);
        }
    }
}

/// Raises #UD.
pub fn undefined(_cpu: &mut Cpu<'_>, _d: &Decoded) -> Result<()> {
    Err(Exception::UD)
}

fn table() -> &'static [Handler] {
    static TABLE: OnceLock<Vec<Handler>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table {
            handlers: vec![undefined as Handler; Code::values().count()],
        };
        crate::ops::register(&mut t);
        crate::sys::register(&mut t);
        crate::x87::register(&mut t);
        t.handlers
    })
}

/// The handler for a decoded instruction.
pub fn handler_for(ins: &Instruction) -> Handler {
    if ins.is_invalid() {
        return undefined;
    }
    table()[ins.code() as usize]
}

/// Whether any family implements `code` (for coverage reports).
pub fn implemented(code: Code) -> bool {
    table()[code as usize] as usize != undefined as Handler as usize
}

/// Every code with a legacy (non-VEX/EVEX/XOP) encoding that exists in 16-
/// or 32-bit mode: the space the i686 integer and x87 families draw from.
pub fn legacy_codes() -> impl Iterator<Item = Code> {
    Code::values().filter(|c| {
        let oc = c.op_code();
        c.encoding() == iced_x86::EncodingKind::Legacy && (oc.mode16() || oc.mode32())
    })
}
