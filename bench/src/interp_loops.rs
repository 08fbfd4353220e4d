//! CPU-bound guest loops for measuring the interpreter: flat 32-bit
//! protected mode with paging on (`TestMachine::flat32_paged`), code
//! assembled with iced's `CodeAssembler`, each loop ending in HLT.
//!
//! - `alu_loop`: mixed ALU (add/xor/rol/imul), loads and stores through a
//!   1024-entry table, a data-dependent branch, a counted loop;
//! - `call_string_loop`: a call/ret-heavy loop whose callee copies with
//!   `rep movsd`, fills with `rep stosb`, scans with `lodsd` and calls a
//!   leaf that builds a stack frame.
//!
//! Not modelled: anything a real guest OS adds (interrupts, devices).

use cpu_interp::harness::{asm32, TestMachine, CODE_BASE};
use cpu_interp::Stop;
use iced_x86::code_asm::*;
use std::time::{Duration, Instant};

/// The table the ALU loop walks (4 KiB) and the string buffers.
pub const TABLE: u32 = 0x0020_0000;
pub const SRC: u32 = 0x0021_0000;
pub const DST: u32 = 0x0022_0000;
pub const FILL: u32 = 0x0023_0000;

/// Instructions per iteration of the ALU loop body (both branch paths
/// have the same count except the skipped `add`).
pub fn alu_loop(iterations: u32) -> Vec<u8> {
    asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
        a.mov(esi, TABLE).unwrap();
        a.mov(ecx, iterations).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(ebx, 0x1234_5678u32).unwrap();
        a.xor(edi, edi).unwrap();
        a.set_label(&mut top).unwrap();
        a.mov(eax, dword_ptr(esi + edx * 4)).unwrap();
        a.add(eax, ebx).unwrap();
        a.xor(ebx, eax).unwrap();
        a.rol(ebx, 3).unwrap();
        a.mov(dword_ptr(esi + edx * 4), eax).unwrap();
        a.inc(edx).unwrap();
        a.and(edx, 1023).unwrap();
        a.test(eax, 1).unwrap();
        a.jz(skip).unwrap();
        a.add(edi, eax).unwrap();
        a.set_label(&mut skip).unwrap();
        a.imul_3(ebx, ebx, 13).unwrap();
        a.sub(ebp, ebx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    })
}

/// Constants the FPU loop reads (two f32 values at `FPU_DATA`) and where it
/// stores its f64 result.
pub const FPU_DATA: u32 = 0x0024_0000;

/// An x87-heavy loop: load/multiply single-precision memory operands,
/// accumulate, square root, store a double, with a counted loop around it.
pub fn fpu_loop(iterations: u32) -> Vec<u8> {
    asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.fninit().unwrap();
        a.mov(ecx, iterations).unwrap();
        a.fldz().unwrap();
        a.set_label(&mut top).unwrap();
        a.fld(dword_ptr(FPU_DATA)).unwrap();
        a.fmul(dword_ptr(FPU_DATA + 4)).unwrap();
        a.faddp(st1, st0).unwrap();
        a.fld(st0).unwrap();
        a.fsqrt().unwrap();
        a.fstp(qword_ptr(FPU_DATA + 8)).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();
    })
}

pub fn call_string_loop(iterations: u32) -> Vec<u8> {
    asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut func = a.create_label();
        let mut leaf = a.create_label();
        let mut scan = a.create_label();
        a.mov(ecx, iterations).unwrap();
        a.set_label(&mut top).unwrap();
        a.push(ecx).unwrap();
        a.call(func).unwrap();
        a.pop(ecx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.hlt().unwrap();

        a.set_label(&mut func).unwrap();
        a.cld().unwrap();
        a.mov(esi, SRC).unwrap();
        a.mov(edi, DST).unwrap();
        a.mov(ecx, 16u32).unwrap();
        a.rep().movsd().unwrap();
        a.mov(edi, FILL).unwrap();
        a.mov(al, 0x55u32).unwrap();
        a.mov(ecx, 32u32).unwrap();
        a.rep().stosb().unwrap();
        a.mov(esi, DST).unwrap();
        a.mov(ecx, 8u32).unwrap();
        a.xor(edx, edx).unwrap();
        a.set_label(&mut scan).unwrap();
        a.lodsd().unwrap();
        a.add(edx, eax).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(scan).unwrap();
        a.push(edx).unwrap();
        a.call(leaf).unwrap();
        a.add(esp, 4).unwrap();
        a.ret().unwrap();

        a.set_label(&mut leaf).unwrap();
        a.push(ebp).unwrap();
        a.mov(ebp, esp).unwrap();
        a.mov(eax, dword_ptr(ebp + 8)).unwrap();
        a.xor(eax, 0x5A5A_5A5Au32).unwrap();
        a.mov(dword_ptr(FILL + 64), eax).unwrap();
        a.pop(ebp).unwrap();
        a.ret().unwrap();
    })
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    pub instructions: u64,
    pub elapsed: Duration,
    /// CPU time of the measuring thread (steadier than wall time on a
    /// shared machine).
    pub cpu: Duration,
    pub tlb_hits: u64,
    pub tlb_misses: u64,
    pub stop: Stop,
}

impl Measurement {
    /// Instructions per wall-clock microsecond.
    pub fn mips(&self) -> f64 {
        self.instructions as f64 / self.elapsed.as_secs_f64() / 1e6
    }
    /// Instructions per microsecond of the thread's CPU time.
    pub fn cpu_mips(&self) -> f64 {
        self.instructions as f64 / self.cpu.as_secs_f64().max(1e-9) / 1e6
    }
    pub fn tlb_hit_rate(&self) -> f64 {
        let total = self.tlb_hits + self.tlb_misses;
        if total == 0 {
            1.0
        } else {
            self.tlb_hits as f64 / total as f64
        }
    }
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec` through the valid,
    // exclusive pointer it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A paged flat machine running `code`, with the data the loops read
/// (the table, the string source, the x87 operands).
pub fn machine(code: &[u8]) -> TestMachine {
    let mut m = TestMachine::flat32_paged(code);
    for i in 0..1024u32 {
        m.mmu
            .phys
            .write_u32(TABLE + 4 * i, i.wrapping_mul(0x9E37_79B9));
    }
    for i in 0..64u32 {
        m.mmu.phys.write_u32(SRC + 4 * i, i * 3 + 1);
    }
    m.mmu.phys.write_u32(FPU_DATA, 1.5f32.to_bits());
    m.mmu.phys.write_u32(FPU_DATA + 4, 0.25f32.to_bits());
    m
}

/// Measures `run` (called until it stops for another reason than the
/// budget) on `m`.
pub fn measure_with(
    m: &mut TestMachine,
    mut run: impl FnMut(&mut TestMachine) -> Stop,
) -> Measurement {
    let (h0, m0) = (m.mmu.tlb.hits, m.mmu.tlb.misses);
    let start = Instant::now();
    let cpu0 = thread_cpu_time();
    let mut stop = Stop::Budget;
    let i0 = m.s.icount;
    while stop == Stop::Budget {
        stop = run(m);
    }
    let elapsed = start.elapsed();
    let cpu = thread_cpu_time().saturating_sub(cpu0);
    Measurement {
        instructions: m.s.icount - i0,
        elapsed,
        cpu,
        tlb_hits: m.mmu.tlb.hits - h0,
        tlb_misses: m.mmu.tlb.misses - m0,
        stop,
    }
}

/// Runs `code` on the interpreter until HLT and measures it.
pub fn measure(code: &[u8]) -> Measurement {
    measure_with(&mut machine(code), |m| m.run_budget(u64::MAX / 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alu_loop_halts_with_expected_count() {
        let r = measure(&alu_loop(100));
        assert_eq!(r.stop, Stop::Halted);
        // 5 setup + 100 * (13 or 14) + hlt
        assert!(
            (5 + 1300 + 1..=5 + 1400 + 1).contains(&r.instructions),
            "{}",
            r.instructions
        );
        assert!(r.tlb_hit_rate() > 0.9);
        assert!(r.cpu_mips() > 0.0 && r.mips() > 0.0);
    }

    #[test]
    fn call_string_loop_halts() {
        let r = measure(&call_string_loop(50));
        assert_eq!(r.stop, Stop::Halted);
        assert!(r.instructions > 50 * 40, "{}", r.instructions);
    }
}
