//! CPUID: one coherent family-6 (Pentium Pro / Pentium II class) feature
//! set that claims only what the emulator implements. Debian's 686 kernel
//! needs family >= 5 with CMOV, CX8 and TSC.

/// Processor signature (EAX of leaf 1, and EDX after reset): family 6,
/// model 3, stepping 3 (Pentium II "Klamath").
pub const SIGNATURE: u32 = 0x0000_0633;

/// Leaf 1 EDX feature bits.
pub mod feat {
    pub const FPU: u32 = 1 << 0;
    pub const VME: u32 = 1 << 1;
    pub const DE: u32 = 1 << 2;
    pub const PSE: u32 = 1 << 3;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const CX8: u32 = 1 << 8;
    pub const SEP: u32 = 1 << 11;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
    pub const MMX: u32 = 1 << 23;
    pub const FXSR: u32 = 1 << 24;
}

/// The leaf-1 EDX features this build implements. FXSR and MMX are added
/// by the x87 family once implemented (see `x87::CPUID_FEATURES`).
pub fn features_edx() -> u32 {
    feat::FPU
        | feat::DE
        | feat::PSE
        | feat::TSC
        | feat::MSR
        | feat::CX8
        | feat::PGE
        | feat::CMOV
        | crate::x87::CPUID_FEATURES
}

/// Returns (EAX, EBX, ECX, EDX) for `leaf`.
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    match leaf {
        // Max leaf and vendor "GenuineIntel".
        0 => (2, 0x756E_6547, 0x6C65_746E, 0x4965_6E69),
        1 => (SIGNATURE, 0, 0, features_edx()),
        // Cache descriptors of a Pentium II: 0x01 ITLB, 0x02, 0x03 DTLB,
        // 0x43 512K L2, 0x08/0x0C 16K L1 I/D. AL = 1 (one iteration).
        2 => (0x0302_0101, 0, 0, 0x0C04_0843),
        // Leaves above the maximum return the highest basic leaf's values
        // on Intel CPUs.
        _ if leaf < 0x8000_0000 => cpuid(2),
        // No extended leaves: a P6 returns the highest basic leaf.
        _ => cpuid(2),
    }
}
