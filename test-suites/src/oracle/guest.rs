//! Running the same instruction on an engine (the interpreter, the
//! translator, ...): a flat 32-bit
//! protected-mode machine (CPL 0) whose DS and ES are 64 KiB data segments
//! based at the data window, like the host's LDT segment. The instruction
//! is followed by HLT; an IDT sends every exception to its own HLT, so the
//! outcome is either "reached the HLT after the instruction" or "raised
//! vector N".

use cpu_interp::harness::{flat_seg, TestMachine};
use cpu_interp::state::*;
use cpu_interp::{Engine, Stop};

use super::layout::*;

const IDT: u32 = 0x2000;
/// Exception handlers: one HLT per vector at `HANDLERS + vector`.
const HANDLERS: u32 = 0x3000;

/// How a run on the engine ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done(Box<MachineState>),
    Exception(u8),
    Other(String),
}

pub struct Guest {
    m: TestMachine,
    template: CpuState,
    base: u32,
}

impl Guest {
    /// A machine whose region sits at `base` (the host runner's address),
    /// run by `engine`. Each case's code is written to the same place;
    /// mmu's code-page tracking makes every engine drop what it decoded
    /// or translated from the previous case.
    pub fn new(base: u32, engine: Box<dyn Engine>) -> Guest {
        let mut m = TestMachine::flat32(&[]).with_engine(engine);
        for v in 0..256u32 {
            let off = HANDLERS + v;
            let lo = (0x08 << 16) | (off & 0xFFFF);
            let hi = (off & 0xFFFF_0000) | 0x8E00;
            m.mmu.phys.write_u32(IDT + 8 * v, lo);
            m.mmu.phys.write_u32(IDT + 8 * v + 4, hi);
            m.mmu.phys.write_bytes(off, &[0xF4]);
        }
        m.s.idtr = DescTable {
            base: IDT,
            limit: 256 * 8 - 1,
        };
        let mut data = flat_seg(0x10, 0x93);
        data.base = base + DATA;
        data.limit = 0xFFFF;
        data.attr &= !0x8000; // byte granular
        m.s.seg[DS] = data;
        m.s.seg[ES] = data;
        let template = m.s.clone();
        Guest { m, template, base }
    }

    /// Runs `code` + HLT from `input`, in a 16-bit code segment (based at
    /// the instruction) when `code16`.
    pub fn run(&mut self, code: &[u8], input: &MachineState, code16: bool) -> Outcome {
        let at = self.base + if code16 { CODE16 } else { ENTRY32 };
        let mut bytes = code.to_vec();
        bytes.push(0xF4);
        let m = &mut self.m;
        m.s = self.template.clone();
        m.mmu.phys.write_bytes(at, &bytes);
        m.s.regs = input.regs;
        m.s.set_eflags_raw((input.eflags & 0x0CD5) | fl::IF | 2);
        let start = if code16 {
            m.s.seg[CS] = Segment {
                selector: 0x30,
                attr: 0x9B,
                base: at,
                limit: 0xFFFF,
                access: SEG_READ | SEG_EXEC,
            };
            0
        } else {
            at
        };
        m.s.eip = start;
        m.mmu.phys.write_bytes(self.base + DATA, &input.data);
        m.mmu.phys.write_bytes(self.base + STACK_WIN, &input.stack);
        let stop = m.run_budget(10_000);
        let eip = m.s.eip;
        if stop != Stop::Halted {
            return Outcome::Other(format!("stopped with {stop:?} at eip={eip:08x}"));
        }
        if (HANDLERS + 1..=HANDLERS + 256).contains(&eip) && m.s.seg[CS].base == 0 {
            return Outcome::Exception((eip - HANDLERS - 1) as u8);
        }
        if eip != start + bytes.len() as u32 {
            return Outcome::Other(format!("halted at unexpected eip={eip:08x}"));
        }
        let mut out = MachineState {
            regs: m.s.regs,
            eflags: m.s.get_eflags(),
            ..MachineState::default()
        };
        m.mmu.phys.read_bytes(self.base + DATA, &mut out.data);
        m.mmu.phys.read_bytes(self.base + STACK_WIN, &mut out.stack);
        Outcome::Done(Box::new(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_reports_exceptions() {
        let base = 0x0050_0000;
        let mut g = Guest::new(base, Box::new(cpu_interp::Interpreter::new()));
        let mut s = MachineState::default();
        s.regs[0] = 5;
        s.regs[1] = 7;
        s.regs[4] = base + STACK_TOP;
        match g.run(&[0x01, 0xC8], &s, false) {
            Outcome::Done(o) => assert_eq!(o.regs[0], 12),
            o => panic!("{o:?}"),
        }
        // ud2
        assert_eq!(g.run(&[0x0F, 0x0B], &s, false), Outcome::Exception(6));
        assert_eq!(g.run(&[0x0F, 0x0B], &s, true), Outcome::Exception(6));
        // 16-bit addressing goes through DS: mov [bx], al
        s.regs[3] = 0x10;
        match g.run(&[0x67, 0x88, 0x07], &s, false) {
            Outcome::Done(o) => assert_eq!(o.data[0x10], 5),
            o => panic!("{o:?}"),
        }
        // The same bytes in a 16-bit segment: 32-bit addressing [edi].
        s.regs[7] = 0x20;
        match g.run(&[0x67, 0x88, 0x07], &s, true) {
            Outcome::Done(o) => assert_eq!(o.data[0x20], 5),
            o => panic!("{o:?}"),
        }
    }
}
