//! The conformance suite generic over the CPU engine: every case is a
//! `pub fn case(e: Eng)` that builds its machines through `e` (so they run
//! on the engine under test) and asserts architectural results.
//! `tests/engines.rs` instantiates each case as a `#[test]` for every
//! engine: the interpreter, the translator translating on first sight,
//! the translator at its default hotness threshold, the translator with a
//! tiny code buffer (constant flushes) and the lockstep runner.
//!
//! Families: `core` (engine loop, blocks, SMC, exceptions, single-step,
//! memory-map changes from port I/O), `int_*` (integer instruction
//! families, faults, strings), `sys_*` (protected mode, gates, tasks,
//! V86), `x87` (x87 programs, which the translator runs as callouts) and
//! `bad_input` (guest code that attacks the engines: jumps into the middle
//! of instructions, overlapping blocks, code in ROM and MMIO, execution
//! from unmapped memory, SMC of running blocks, faults mid-REP).
//!
//! Leaves out: tests of one engine's internals (the translator's counters,
//! chaining and golden dumps stay in `crates/dbt/tests`, the interpreter's
//! dispatch-table coverage and pure helpers in `crates/cpu-interp/tests`).

pub mod bad_input;
pub mod core;
pub mod int_data;
pub mod int_families;
pub mod int_faults;
pub mod int_string;
pub mod sys_fuzz;
pub mod sys_gates;
pub mod sys_harness;
pub mod sys_pmode;
pub mod sys_task;
pub mod sys_v86;
pub mod x87;

use cpu_interp::harness::TestMachine;
use cpu_interp::{Bus, Engine, Stop};

/// The engine a case runs on: a name and a constructor. Cases build every
/// machine they run through it.
#[derive(Clone, Copy)]
pub struct Eng {
    pub name: &'static str,
    make: fn() -> Box<dyn Engine>,
}

impl Eng {
    pub const fn new(name: &'static str, make: fn() -> Box<dyn Engine>) -> Eng {
        Eng { name, make }
    }

    /// A fresh engine.
    pub fn make(self) -> Box<dyn Engine> {
        (self.make)()
    }

    /// `TestMachine::real(code)` on this engine.
    pub fn real(self, code: &[u8]) -> TestMachine {
        TestMachine::real(code).with_engine(self.make())
    }

    /// `TestMachine::flat32(code)` on this engine.
    pub fn flat32(self, code: &[u8]) -> TestMachine {
        TestMachine::flat32(code).with_engine(self.make())
    }

    /// `TestMachine::flat32_paged(code)` on this engine.
    pub fn flat32_paged(self, code: &[u8]) -> TestMachine {
        TestMachine::flat32_paged(code).with_engine(self.make())
    }
}

/// Runs `m` on its engine with `bus` instead of the machine's null bus;
/// a lockstep mismatch fails the test.
pub fn run_on_bus(m: &mut TestMachine, bus: &mut dyn Bus, budget: u64) -> Stop {
    let e = m.engine.as_mut().expect("a machine made by Eng");
    let stop = e.run(&mut m.s, &mut m.mmu, bus, budget);
    if let Some(mm) = e.mismatch() {
        panic!("{} engine: {mm}", e.name());
    }
    stop
}

/// A bus with no devices whose INTR line a test raises between slices
/// (`pending = true`); the acknowledge returns vector 0x20.
#[derive(Default)]
pub struct IrqBus {
    pub pending: bool,
}

impl Bus for IrqBus {
    fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
        0
    }
    fn io_write(&mut self, _port: u16, _size: u8, _val: u32) {}
    fn interrupt_pending(&mut self) -> bool {
        self.pending
    }
    fn acknowledge_interrupt(&mut self) -> u8 {
        self.pending = false;
        0x20
    }
}

/// Cases that fail on an engine because of a known bug in that engine:
/// (engine module name or "*" for all, case name, the bug). The
/// instantiated test is skipped there (it says so on stdout);
/// `tests/engines.rs` keeps an `#[ignore]`d reproducer for each, to run
/// once the bug is fixed.
pub const KNOWN_FAILURES: &[(&str, &str, &str)] = &[];

/// The known bug that makes `case` fail on `engine`, if any.
pub fn known_failure(engine: &str, case: &str) -> Option<&'static str> {
    find_known(KNOWN_FAILURES, engine, case)
}

fn find_known(
    list: &[(&str, &str, &'static str)],
    engine: &str,
    case: &str,
) -> Option<&'static str> {
    list.iter()
        .find(|(e, c, _)| (*e == engine || *e == "*") && *c == case)
        .map(|k| k.2)
}

/// Instantiates `$case` (paths under `engine_suite`) as `#[test]`s in a
/// module `$engine` running on the engine `$make` builds. Case names must
/// be unique across the suite.
#[macro_export]
macro_rules! engine_cases {
    ($engine:ident, $make:expr, [$($file:ident :: $case:ident),* $(,)?]) => {
        mod $engine {
            fn make() -> Box<dyn cpu_interp::Engine> {
                Box::new($make)
            }
            pub(crate) const ENG: $crate::engine_suite::Eng =
                $crate::engine_suite::Eng::new(stringify!($engine), make);
            $(
                #[test]
                fn $case() {
                    let case = stringify!($case);
                    if let Some(bug) = $crate::engine_suite::known_failure(ENG.name, case) {
                        println!("{case} on {}: skipped, known bug: {bug}", ENG.name);
                        return;
                    }
                    $crate::engine_suite::$file::$case(ENG)
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp() -> Box<dyn Engine> {
        Box::new(cpu_interp::Interpreter::new())
    }

    #[test]
    fn eng_builds_machines_on_its_engine() {
        let e = Eng::new("interp", interp);
        let mut m = e.flat32(&[0xF4]);
        assert!(m.engine.is_some());
        assert_eq!(m.engine_name(), "interp");
        assert_eq!(m.run(), Stop::Halted);
        assert_eq!(m.s.icount, 1, "the HLT retired");
        assert_eq!(e.real(&[0xF4]).engine_name(), "interp");
        assert_eq!(e.flat32_paged(&[0xF4]).run(), Stop::Halted);
    }

    #[test]
    fn known_failures_match_by_engine_or_wildcard() {
        let list: &[(&str, &str, &'static str)] =
            &[("*", "everywhere", "bug a"), ("lockstep", "one", "bug b")];
        assert_eq!(find_known(list, "interp", "everywhere"), Some("bug a"));
        assert_eq!(find_known(list, "dbt_tiny", "everywhere"), Some("bug a"));
        assert_eq!(find_known(list, "interp", "one"), None);
        assert_eq!(find_known(list, "lockstep", "one"), Some("bug b"));
        let engines = [
            "*",
            "interp",
            "dbt_eager",
            "dbt_default",
            "dbt_tiny",
            "lockstep",
        ];
        for (e, c, why) in KNOWN_FAILURES {
            assert!(engines.contains(e), "unknown engine {e} for {c}");
            assert!(!why.is_empty());
        }
    }
}
