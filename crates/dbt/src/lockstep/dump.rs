//! Introspection of translations: the key of the current CS:EIP, a block's
//! guest and host disassembly (iced formats both), and the `--dbt-dump`
//! stream that receives every block as it is translated.

use std::io::Write;

use cpu_interp::bus::NullBus;
use cpu_interp::cpu::Cpu;
use cpu_interp::state::CpuState;
use cpu_interp::Interpreter;
use mmu::Mmu;

use crate::disasm;
use crate::engine::Dbt;
use crate::key::Key;

impl Dbt {
    /// The translation key of CS:EIP in `s`, if it can be fetched.
    pub fn key_for(s: &CpuState, mmu: &mut Mmu) -> Option<Key> {
        Key::current(s, mmu)
    }

    /// Guest and host disassembly of the translation for `key` (the
    /// debugging dump `oxpc --dbt-dump` writes).
    pub fn dump_block(&self, key: &Key) -> Option<String> {
        let b = self.cache.get(key).and_then(|id| self.cache.block(id))?;
        Some(format!(
            "; guest {:08X} (paddr {:08X}, cs base {:08X}, mode {:#x})\n{}; host\n{}",
            key.eip,
            key.paddr,
            key.cs_base,
            key.mode,
            disasm::guest_block(&b.block),
            self.host_code(key)
        ))
    }

    /// Disassembly of the host code translated for `key`.
    pub fn host_code(&self, key: &Key) -> String {
        match self.cache.get(key).and_then(|id| self.cache.block(id)) {
            Some(b) => {
                let bytes = self.cache.code.bytes(b.entry, b.len);
                disasm::host_code(&bytes, self.cache.code.addr(b.entry) as u64)
            }
            None => String::new(),
        }
    }

    /// Writes the translation `id` to the `--dbt-dump` stream, if any (a
    /// write error closes the stream).
    pub(crate) fn dump_translation(&mut self, id: u32) {
        let Some(key) = self.cache.block(id).map(|b| b.key) else {
            return;
        };
        let Some(text) = self.dump_block(&key) else {
            return;
        };
        if let Some(out) = &mut self.dump {
            if let Err(e) = writeln!(out, "{text}") {
                log::warn!("dbt dump: {e}; dump closed");
                self.dump = None;
            }
        }
    }
}

/// The guest instructions the interpreter decodes at CS:EIP of `s` (for
/// a report about a block that was not translated).
pub fn interpreted_block(interp: &mut Interpreter, s: &CpuState, mmu: &mut Mmu) -> String {
    let mut st = s.clone();
    let mut bus = NullBus::default();
    let mut cpu = Cpu {
        s: &mut st,
        mmu,
        bus: &mut bus,
    };
    match interp.cache.get(&mut cpu) {
        Ok(b) => disasm::guest_block(&b),
        Err(e) => format!("(not fetchable: {e:?})"),
    }
}
