//! The host-CPU oracle for the integer instruction set: every user-mode
//! integer instruction form (see `forms`) run natively on the x86-64 host
//! in a 32-bit compatibility-mode segment (`host`) and on an engine, the
//! interpreter or the translator (`guest`), from the same random starting
//! state (`gen`), comparing
//! registers, the data and stack windows and the flags the SDM defines
//! (`expect`).
//!
//! Undefined flags and undefined results that differ are counted per form
//! and reported, not failed. Forms listed in `known::KNOWN_MISMATCHES` are
//! reported but do not fail the run.
//!
//! Linux x86-64 only (compatibility-mode code segment, modify_ldt).

pub mod expect;
pub mod forms;
pub mod gen;
pub mod guest;
pub mod host;
pub mod known;
pub mod layout;

use std::collections::BTreeMap;

use cpu_interp::Engine;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use expect::COMPARED;
use gen::Case;
use guest::{Guest, Outcome};
use host::Host;
use layout::*;

/// One disagreement, with everything needed to reproduce it.
#[derive(Clone, Debug)]
pub struct Mismatch {
    pub form: String,
    pub text: String,
}

#[derive(Default, Debug)]
pub struct Report {
    /// The engine's name ("interp", "dbt", ...).
    pub engine: &'static str,
    pub cases: u64,
    pub forms: usize,
    /// Mismatches in forms not on the known list.
    pub mismatches: Vec<Mismatch>,
    pub mismatch_count: u64,
    /// Mismatch counts per known-mismatch entry (and an example each).
    pub known: BTreeMap<&'static str, (u64, String)>,
    /// Forms whose undefined flags / results differ: count and an example.
    pub undefined: BTreeMap<String, (u64, String)>,
    /// Forms the generator could not produce.
    pub skipped: Vec<String>,
}

impl Report {
    pub fn summary(&self) -> String {
        let tag = match self.engine {
            "" | "interp" => String::new(),
            e => format!(" [{e}]"),
        };
        format!(
            "host-oracle{tag}: {} cases, {} forms, {} mismatches",
            self.cases, self.forms, self.mismatch_count
        )
    }
}

/// Intel-syntax disassembly of 32-bit (or 16-bit) code.
pub fn disasm(bytes: &[u8], code16: bool) -> String {
    let bits = if code16 { 16 } else { 32 };
    let mut d = Decoder::with_ip(bits, bytes, 0, DecoderOptions::NONE);
    let mut f = IntelFormatter::new();
    let mut out = String::new();
    while d.can_decode() {
        let ins = d.decode();
        if !out.is_empty() {
            out += "; ";
        }
        f.format(&ins, &mut out);
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

enum Verdict {
    Same,
    /// Differs only where the SDM leaves things undefined.
    Undefined(String),
    Differs(String),
}

fn window_diff(name: &str, host: &[u8], guest: &[u8]) -> Option<String> {
    let i = first_diff(host, guest)?;
    let end = (i + 8).min(host.len());
    Some(format!(
        "{name}[{i:#x}..]: host {} guest {}",
        hex(&host[i..end]),
        hex(&guest[i..end])
    ))
}

fn compare(case: &Case, host: &MachineState, guest: &Outcome) -> Verdict {
    let g = match guest {
        Outcome::Done(g) => g,
        Outcome::Exception(v) => return Verdict::Differs(format!("engine raised vector {v}")),
        Outcome::Other(s) => return Verdict::Differs(format!("engine {s}")),
    };
    let mut defined = Vec::new();
    let mut undefined = Vec::new();
    let fdiff = (host.eflags ^ g.eflags) & COMPARED;
    if fdiff & case.expect.flags != 0 {
        defined.push(format!("flags differ in {:#x}", fdiff & case.expect.flags));
    }
    if fdiff & !case.expect.flags != 0 {
        undefined.push(format!(
            "undefined flags differ in {:#x}",
            fdiff & !case.expect.flags
        ));
    }
    let mut state = Vec::new();
    for (i, name) in REG_NAMES.iter().enumerate() {
        if host.regs[i] != g.regs[i] {
            state.push(format!(
                "{name} host {:08x} guest {:08x}",
                host.regs[i], g.regs[i]
            ));
        }
    }
    state.extend(window_diff("data", &host.data, &g.data));
    state.extend(window_diff("stack", &host.stack, &g.stack));
    if case.expect.result {
        defined.extend(state);
    } else {
        undefined.extend(state.into_iter().map(|s| format!("undefined result: {s}")));
    }
    if !defined.is_empty() {
        defined.extend(undefined);
        Verdict::Differs(defined.join("; "))
    } else if !undefined.is_empty() {
        Verdict::Undefined(undefined.join("; "))
    } else {
        Verdict::Same
    }
}

fn describe(case: &Case, host: &MachineState, guest: &Outcome, why: &str) -> String {
    let g = match guest {
        Outcome::Done(g) => g.regs_line(),
        o => format!("{o:?}"),
    };
    format!(
        "  bytes: {}  ({}{})\n  in:    {}\n  host:  {}\n  guest: {}\n  diff:  {}",
        hex(&case.bytes),
        if case.code16 { "16-bit code: " } else { "" },
        disasm(&case.bytes, case.code16),
        case.input.regs_line(),
        host.regs_line(),
        g,
        why
    )
}

/// Full window dumps of a mismatch (with `OXPC_ORACLE_TRACE`).
fn dump_windows(input: &MachineState, host: &MachineState, guest: &Outcome) {
    let Outcome::Done(g) = guest else { return };
    for (name, i, h, gg) in [
        ("stack", &input.stack[..], &host.stack[..], &g.stack[..]),
        ("data", &input.data[..], &host.data[..], &g.data[..]),
    ] {
        for row in (0..i.len()).step_by(16) {
            let r = row..row + 16;
            if i[r.clone()] != h[r.clone()] || h[r.clone()] != gg[r.clone()] {
                eprintln!("  {name}+{row:03x} in    {}", hex(&i[r.clone()]));
                eprintln!("  {name}+{row:03x} host  {}", hex(&h[r.clone()]));
                eprintln!("  {name}+{row:03x} guest {}", hex(&gg[r]));
            }
        }
    }
}

/// Runs `cases_per_form` cases of every form from `seed` on `engine`.
pub fn run(cases_per_form: u32, seed: u64, engine: Box<dyn Engine>) -> Result<Report, String> {
    let mut host = Host::new().map_err(|e| e.0)?;
    let base = host.base();
    let mut rep = Report {
        engine: engine.name(),
        ..Report::default()
    };
    let mut guest = Guest::new(base, engine);
    let forms = forms::all_forms();
    let trace = std::env::var_os("OXPC_ORACLE_TRACE").is_some();
    let only = std::env::var("OXPC_ORACLE_FORM").ok();
    let variants = forms.iter().flat_map(|f| [(f, false), (f, true)]);
    for (fi, (form, code16)) in variants.enumerate() {
        if code16 && !form.valid16() {
            continue;
        }
        let name = if code16 {
            format!("{}/c16", form.name())
        } else {
            form.name()
        };
        if only.as_ref().is_some_and(|o| !name.starts_with(o.as_str())) {
            continue;
        }
        if trace {
            eprintln!("form {name}");
        }
        let known = known::known(&name);
        let mut rng = crate::rng::Rng::new(seed ^ (fi as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rep.forms += 1;
        let mut generated = 0;
        for _ in 0..cases_per_form {
            let Some(case) = gen::generate(form, code16, &mut rng, base) else {
                continue;
            };
            generated += 1;
            if trace {
                eprintln!("  {} ({})", hex(&case.bytes), disasm(&case.bytes, code16));
            }
            // SAFETY: `gen` only produces non-faulting, fall-through,
            // user-mode forms whose memory operands (string, stack and
            // BT bit-offset accesses included) stay inside the windows,
            // with DIV/IDIV dividends checked and AAM divisors non-zero.
            let h = unsafe { host.run(&case.bytes, &case.input, code16) };
            let g = guest.run(&case.bytes, &case.input, code16);
            rep.cases += 1;
            match compare(&case, &h, &g) {
                Verdict::Same => {}
                Verdict::Undefined(why) => {
                    let e = rep
                        .undefined
                        .entry(name.clone())
                        .or_insert_with(|| (0, describe(&case, &h, &g, &why)));
                    e.0 += 1;
                }
                Verdict::Differs(why) => {
                    let text = describe(&case, &h, &g, &why);
                    if trace {
                        eprintln!("MISMATCH {name}\n{text}");
                        dump_windows(&case.input, &h, &g);
                    }
                    if let Some(k) = known {
                        let e = rep.known.entry(k).or_insert_with(|| (0, text));
                        e.0 += 1;
                    } else {
                        rep.mismatch_count += 1;
                        if rep.mismatches.len() < 1000 {
                            rep.mismatches.push(Mismatch {
                                form: name.clone(),
                                text,
                            });
                        }
                    }
                }
            }
        }
        if generated == 0 {
            rep.skipped.push(name);
        }
    }
    Ok(rep)
}

/// Prints the report: the summary line first, then details.
pub fn print_report(rep: &Report, max_examples: usize) {
    println!("{}", rep.summary());
    if !rep.skipped.is_empty() {
        println!("  forms never generated: {:?}", rep.skipped);
    }
    for (k, (n, ex)) in &rep.known {
        println!("  KNOWN_MISMATCHES {k}: {n} mismatching cases, e.g.\n{ex}");
    }
    for (p, why) in known::KNOWN_MISMATCHES {
        if !rep.known.contains_key(p) {
            println!("  KNOWN_MISMATCHES entry {p} ({why}) no longer mismatches: remove it");
        }
    }
    if !rep.undefined.is_empty() {
        println!("  forms whose SDM-undefined flags/results differ from the host:");
        for (f, (n, ex)) in &rep.undefined {
            println!("  {f}: {n} cases, e.g.\n{ex}");
        }
    }
    // Per-form mismatch counts, then the first few in full.
    let mut per_form: BTreeMap<&str, u64> = BTreeMap::new();
    for m in &rep.mismatches {
        *per_form.entry(&m.form).or_default() += 1;
    }
    if !per_form.is_empty() {
        println!("  mismatching forms ({}):", per_form.len());
        for (f, n) in &per_form {
            println!("    {f}: {n}");
        }
    }
    let mut shown = BTreeMap::new();
    for m in &rep.mismatches {
        if shown.len() >= max_examples {
            break;
        }
        if shown.insert(m.form.clone(), ()).is_none() {
            println!("  MISMATCH {}\n{}", m.form, m.text);
        }
    }
}

/// Reads `OXPC_ORACLE_CASES` (cases per form) and `OXPC_ORACLE_SEED`.
pub fn config(default_cases: u32) -> (u32, u64) {
    let cases = std::env::var("OXPC_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("OXPC_ORACLE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0000_CA5E_5EED);
    (cases, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassembles() {
        assert_eq!(disasm(&[0x01, 0xC8], false), "add eax,ecx");
        assert_eq!(disasm(&[0x01, 0xC8], true), "add ax,cx");
    }

    #[test]
    fn compare_masks_undefined_flags() {
        let case = Case {
            bytes: vec![0xF7, 0xE1],
            code16: false,
            input: MachineState::default(),
            expect: expect::expect(iced_x86::Mnemonic::Mul, 4, 0, false),
        };
        let h = MachineState::default();
        let mut g = h.clone();
        g.eflags ^= expect::ZF;
        assert!(matches!(
            compare(&case, &h, &Outcome::Done(Box::new(g.clone()))),
            Verdict::Undefined(_)
        ));
        g.eflags ^= expect::CF;
        assert!(matches!(
            compare(&case, &h, &Outcome::Done(Box::new(g))),
            Verdict::Differs(_)
        ));
        assert!(matches!(
            compare(&case, &h, &Outcome::Exception(6)),
            Verdict::Differs(_)
        ));
    }
}
