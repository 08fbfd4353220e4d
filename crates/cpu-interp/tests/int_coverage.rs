//! Which legacy-encoded integer opcodes of 16/32-bit mode have no handler.
//! The listed families are expected to be implemented; the test fails if
//! one of their codes falls back to #UD.

use cpu_interp::dispatch::{implemented, legacy_codes};
use iced_x86::{CpuidFeature, Mnemonic};

/// CPUID features of the i686 integer ISA this emulator models.
fn is_i686_integer(code: iced_x86::Code) -> bool {
    code.cpuid_features().iter().all(|f| {
        matches!(
            f,
            CpuidFeature::INTEL8086
                | CpuidFeature::INTEL186
                | CpuidFeature::INTEL286
                | CpuidFeature::INTEL386
                | CpuidFeature::INTEL486
                | CpuidFeature::CMOV
                | CpuidFeature::CX8
        )
    })
}

#[test]
fn i686_integer_opcodes_have_handlers() {
    let missing: Vec<String> = legacy_codes()
        .filter(|&c| is_i686_integer(c) && !implemented(c))
        .filter(|c| !matches!(c.mnemonic(), Mnemonic::Ud0 | Mnemonic::Ud1 | Mnemonic::Ud2))
        .map(|c| format!("{c:?}"))
        .collect();
    println!("{} missing: {missing:?}", missing.len());
    // Opcodes the integer family leaves to others or to #UD on purpose.
    let others = [
        "Loadall",
        "Jmpe",
        "Cmpxchg486",
        "Umov",
        "Xbts",
        "Ibts",
        "Int1",
        "Smint",
        "Rsm",
        "Wrshr",
        "Rdshr",
        "Svdc",
        "Rsdc",
        "Svldt",
        "Rsldt",
        "Svts",
        "Rsts",
        "Lmsw",
        "Smsw",
        "Lgdt",
        "Sgdt",
        "Lidt",
        "Sidt",
        "Lldt",
        "Sldt",
        "Ltr",
        "Str",
        "Verr",
        "Verw",
        "Lar",
        "Lsl",
        "Arpl",
        "Clts",
        "Invd",
        "Wbinvd",
        "Invlpg",
        "Rdmsr",
        "Wrmsr",
        "Rdpmc",
        "Sysenter",
        "Sysexit",
        "Iret",
        "Int",
        "Into",
        "In_",
        "Out",
        "Retf",
        "Lds",
        "Les",
        "Lfs",
        "Lgs",
        "Lss",
        "Mov_r32_cr",
        "Mov_r32_dr",
        "Mov_r32_tr",
        "Mov_cr_",
        "Mov_dr_",
        "Mov_tr_",
        "Call_ptr",
        "Call_m16",
        "Jmp_ptr",
        "Jmp_m16",
        "Ud0",
        "Ud1",
        "Popcnt",
        "Movbe",
        // Not instructions: iced's pseudo-codes.
        "INVALID",
        "Declare",
        "Zero_bytes",
    ];
    let unexpected: Vec<&String> = missing
        .iter()
        .filter(|n| !others.iter().any(|o| n.starts_with(o)))
        .collect();
    assert!(unexpected.is_empty(), "unexpected #UD: {unexpected:?}");
}
