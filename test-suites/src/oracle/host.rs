//! Running one 32-bit instruction natively on the host CPU.
//!
//! The host is x86-64 Linux; the instruction runs in a 32-bit
//! compatibility-mode code segment (Linux's `__USER32_CS`, selector 0x23),
//! so every legacy form is available, including those invalid in 64-bit
//! mode (BCD, PUSHA, one-byte INC/DEC, 16-bit addressing...).
//!
//! One region below 16 MiB (see `layout`) is mapped read/write/execute at a
//! fixed address. A 64-bit stub saves the callee-saved registers and RSP,
//! then far-returns to 32-bit code that loads DS/ES with an LDT data
//! segment based at the data window, loads EFLAGS and the eight registers
//! from the state block, runs the instruction, stores registers and EFLAGS
//! back (through SS, which stays the flat user data segment), and
//! far-jumps to a 64-bit stub (selector 0x33) that restores RSP and returns.
//! All stubs are assembled with iced's `CodeAssembler` at run time.
//!
//! Not covered: instructions that fault on the host (the generator never
//! produces them: a fault would kill the test process), privileged ones.

use iced_x86::code_asm::*;

use super::layout::*;

/// Linux x86-64 GDT selectors for 32-bit and 64-bit user code.
const USER32_CS: u16 = 0x23;
const USER64_CS: u16 = 0x33;

/// Offsets inside the state block.
const IN_REGS: u32 = 0x00;
const IN_FLAGS: u32 = 0x20;
const OUT_REGS: u32 = 0x40;
const OUT_FLAGS: u32 = 0xC0;
const SAVED_RSP: u32 = 0x100;

/// Candidate region addresses (low, so the interpreter's 16 MiB of RAM
/// holds the same addresses); the first free one is taken.
const CANDIDATES: [u32; 6] = [
    0x0050_0000,
    0x0060_0000,
    0x0070_0000,
    0x0090_0000,
    0x00A0_0000,
    0x00C0_0000,
];

/// Linux `struct user_desc` for modify_ldt(2).
#[repr(C)]
struct UserDesc {
    entry_number: u32,
    base_addr: u32,
    limit: u32,
    /// seg_32bit:1 contents:2 read_exec_only:1 limit_in_pages:1
    /// seg_not_present:1 useable:1 lm:1
    flags: u32,
}

/// The host runner: owns the mapped region and the LDT entry.
pub struct Host {
    base: u32,
    prologue: Vec<u8>,
    epilogue: Vec<u8>,
    /// `jmp far code16:0`, appended to the prologue for 16-bit cases.
    to_code16: Vec<u8>,
}

#[derive(Debug)]
pub struct HostError(pub String);

impl Host {
    /// Maps the region, installs the LDT data segment and the 64-bit stubs.
    pub fn new() -> Result<Host, HostError> {
        // Kernels booted without 32-bit emulation mark __USER32_CS not
        // present: a far return to it would kill the process.
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        if cmdline.split_whitespace().any(|w| {
            matches!(
                w,
                "ia32_emulation=0" | "ia32_emulation=off" | "ia32_emulation=false"
            )
        }) {
            return Err(HostError("kernel has ia32_emulation off".into()));
        }
        let mut found = None;
        for (i, &addr) in CANDIDATES.iter().enumerate() {
            // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping
            // (it fails with EEXIST instead), so this cannot clobber memory
            // Rust owns; the result is checked before use.
            let p = unsafe {
                libc::mmap(
                    addr as usize as *mut libc::c_void,
                    REGION_SIZE,
                    libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if p as usize == addr as usize {
                found = Some((i, addr));
                break;
            }
            if p != libc::MAP_FAILED {
                // An old kernel that ignores NOREPLACE put it elsewhere.
                // SAFETY: `p` is the mapping just created, of REGION_SIZE bytes.
                unsafe { libc::munmap(p, REGION_SIZE) };
            }
        }
        let (slot, base) = found.ok_or_else(|| HostError("no free low region".into()))?;
        let desc = UserDesc {
            entry_number: slot as u32,
            base_addr: base + DATA,
            limit: 0xFFFF,
            flags: 1 | (1 << 6),
        };
        // SAFETY: modify_ldt(1, ptr, size) reads `size` bytes from `ptr`,
        // which points to a live, correctly laid out `user_desc`.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_modify_ldt,
                1,
                &desc as *const UserDesc,
                std::mem::size_of::<UserDesc>(),
            )
        };
        // The 16-bit code segment: base at CODE16, 64 KiB, readable code.
        let desc16 = UserDesc {
            entry_number: slot as u32 + 8,
            base_addr: base + CODE16,
            limit: 0xFFFF,
            flags: (2 << 1) | (1 << 6),
        };
        // SAFETY: as above, a live `user_desc`.
        let rc16 = unsafe {
            libc::syscall(
                libc::SYS_modify_ldt,
                1,
                &desc16 as *const UserDesc,
                std::mem::size_of::<UserDesc>(),
            )
        };
        if rc != 0 || rc16 != 0 {
            // SAFETY: unmapping the region mapped above, not yet shared.
            unsafe { libc::munmap(base as usize as *mut libc::c_void, REGION_SIZE) };
            return Err(HostError(format!("modify_ldt failed: {rc} {rc16}")));
        }
        let sel = ((slot as u16) << 3) | 4 | 3;
        let sel16 = ((slot as u16 + 8) << 3) | 4 | 3;
        let to_code16 = {
            let mut a = CodeAssembler::new(32).map_err(|e| HostError(e.to_string()))?;
            a.jmp_far(sel16, 0).map_err(|e| HostError(e.to_string()))?;
            a.assemble(0).map_err(|e| HostError(e.to_string()))?
        };
        let h = Host {
            base,
            prologue: prologue32(base, sel).map_err(|e| HostError(e.to_string()))?,
            epilogue: epilogue32(base).map_err(|e| HostError(e.to_string()))?,
            to_code16,
        };
        let e64 = entry64(base).map_err(|e| HostError(e.to_string()))?;
        let r64 = ret64(base).map_err(|e| HostError(e.to_string()))?;
        h.write(ENTRY64, &e64);
        h.write(RET64, &r64);
        Ok(h)
    }

    /// The region's address (the same in guest physical memory).
    pub fn base(&self) -> u32 {
        self.base
    }

    fn write(&self, off: u32, bytes: &[u8]) {
        assert!(off as usize + bytes.len() <= REGION_SIZE);
        // SAFETY: the range lies inside the region this `Host` mapped
        // read/write (checked above); nothing else aliases it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (self.base + off) as usize as *mut u8,
                bytes.len(),
            )
        };
    }

    fn read(&self, off: u32, out: &mut [u8]) {
        assert!(off as usize + out.len() <= REGION_SIZE);
        // SAFETY: as in `write`: inside the mapped region.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (self.base + off) as usize as *const u8,
                out.as_mut_ptr(),
                out.len(),
            )
        };
    }

    fn write_u32(&self, off: u32, v: u32) {
        self.write(off, &v.to_le_bytes());
    }

    fn read_u32(&self, off: u32) -> u32 {
        let mut b = [0u8; 4];
        self.read(off, &mut b);
        u32::from_le_bytes(b)
    }

    /// Runs `code` (complete instructions for a 32-bit code segment, or a
    /// 16-bit one when `code16`) from `input`; returns the final state.
    ///
    /// # Safety
    ///
    /// `code` runs natively in this process. It must fall through to its
    /// end, must not fault (a fault kills the process), and may only write
    /// memory inside the data and stack windows given the registers in
    /// `input` (ESP must stay a stack-window address while it pushes).
    pub unsafe fn run(&mut self, code: &[u8], input: &MachineState, code16: bool) -> MachineState {
        let mut buf = self.prologue.clone();
        if code16 {
            buf.extend_from_slice(&self.to_code16);
            self.write(ENTRY32, &buf);
            self.write(EPI32, &self.epilogue);
            // 66 EA: jmp far ptr16:32 to the 32-bit epilogue.
            let mut c16 = code.to_vec();
            c16.extend_from_slice(&[0x66, 0xEA]);
            c16.extend_from_slice(&(self.base + EPI32).to_le_bytes());
            c16.extend_from_slice(&USER32_CS.to_le_bytes());
            assert!(c16.len() <= (STATE - CODE16) as usize, "snippet too long");
            self.write(CODE16, &c16);
        } else {
            buf.extend_from_slice(code);
            buf.extend_from_slice(&self.epilogue);
            assert!(buf.len() <= (EPI32 - ENTRY32) as usize, "snippet too long");
            self.write(ENTRY32, &buf);
        }
        for (i, &r) in input.regs.iter().enumerate() {
            self.write_u32(STATE + IN_REGS + 4 * i as u32, r);
        }
        // Only arithmetic flags and DF come from the case; TF/AC/IF never.
        let fl = (input.eflags & 0x0CD5) | 2;
        self.write_u32(STATE + IN_FLAGS, fl);
        self.write(DATA, &input.data);
        self.write(STACK_WIN, &input.stack);
        // SAFETY: ENTRY64 holds the stub assembled in `new`: it follows the
        // SysV ABI for a `fn()` (saves RBX, RBP, R12-R15 and RSP, restores
        // DS/ES, returns with DF clear). The 32-bit code it reaches only
        // touches the region (the caller's contract for `code`) and
        // returns through RET64.
        unsafe {
            let f: extern "sysv64" fn() =
                std::mem::transmute::<usize, extern "sysv64" fn()>((self.base + ENTRY64) as usize);
            f();
        }
        let mut out = MachineState::default();
        for i in 0..8 {
            out.regs[i] = self.read_u32(STATE + OUT_REGS + 4 * i as u32);
        }
        out.eflags = self.read_u32(STATE + OUT_FLAGS);
        self.read(DATA, &mut out.data);
        self.read(STACK_WIN, &mut out.stack);
        out
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: unmapping the region this `Host` mapped; no references
        // into it outlive `self`.
        unsafe { libc::munmap(self.base as usize as *mut libc::c_void, REGION_SIZE) };
    }
}

/// 64-bit: save callee-saved registers, RSP, DS, ES; far-return into
/// 32-bit code at ENTRY32.
fn entry64(base: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    for r in [rbx, rbp, r12, r13, r14, r15] {
        a.push(r)?;
    }
    a.mov(rax, (base + STATE + SAVED_RSP) as u64)?;
    a.mov(qword_ptr(rax), rsp)?;
    a.mov(word_ptr(rax + 8), ds)?;
    a.mov(word_ptr(rax + 10), es)?;
    a.push(USER32_CS as i32)?;
    a.mov(eax, base + ENTRY32)?;
    a.push(rax)?;
    a.retf()?;
    a.assemble((base + ENTRY64) as u64)
}

/// 64-bit: restore RSP, DS, ES and the callee-saved registers; return.
fn ret64(base: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    a.mov(rax, (base + STATE + SAVED_RSP) as u64)?;
    a.mov(rsp, qword_ptr(rax))?;
    a.mov(ds, word_ptr(rax + 8))?;
    a.mov(es, word_ptr(rax + 10))?;
    for r in [r15, r14, r13, r12, rbp, rbx] {
        a.pop(r)?;
    }
    a.ret()?;
    a.assemble((base + RET64) as u64)
}

/// 32-bit: DS = ES = the LDT data segment, EFLAGS and registers from the
/// state block (ESP last). Position-independent.
fn prologue32(base: u32, sel: u16) -> Result<Vec<u8>, IcedError> {
    let st = base + STATE;
    let mut a = CodeAssembler::new(32)?;
    a.mov(ax, sel as u32)?;
    a.mov(ds, ax)?;
    a.mov(es, ax)?;
    a.mov(esp, st + IN_FLAGS)?;
    a.popfd()?;
    a.mov(esp, st + IN_REGS)?;
    let regs = [eax, ecx, edx, ebx, esp, ebp, esi, edi];
    for (i, r) in regs.iter().enumerate() {
        if i != 4 {
            a.mov(*r, dword_ptr(esp + 4 * i as i32))?;
        }
    }
    a.mov(esp, dword_ptr(esp + 16))?;
    a.assemble(0)
}

/// 32-bit: registers and EFLAGS to the state block (through SS, flat),
/// clear DF, far-jump to the 64-bit return stub. Position-independent.
fn epilogue32(base: u32) -> Result<Vec<u8>, IcedError> {
    let st = base + STATE;
    let mut a = CodeAssembler::new(32)?;
    let regs = [eax, ecx, edx, ebx, esp, ebp, esi, edi];
    for (i, r) in regs.iter().enumerate() {
        a.mov(dword_ptr(st + OUT_REGS + 4 * i as u32).ss(), *r)?;
    }
    a.mov(esp, st + OUT_FLAGS + 4)?;
    a.pushfd()?;
    a.cld()?;
    a.jmp_far(USER64_CS, base + RET64)?;
    a.assemble(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_add_natively() {
        let mut h = Host::new().expect("host runner");
        // add eax, ecx ; 01 C8
        let mut s = MachineState::default();
        s.regs[0] = 0x7FFF_FFFF;
        s.regs[1] = 1;
        s.regs[4] = h.base() + STACK_TOP;
        // SAFETY: add eax, ecx touches no memory.
        let out = unsafe { h.run(&[0x01, 0xC8], &s, false) };
        assert_eq!(out.regs[0], 0x8000_0000);
        assert_eq!(out.regs[4], h.base() + STACK_TOP);
        assert_ne!(out.eflags & 0x800, 0, "OF set");
    }

    #[test]
    fn sixteen_bit_addressing_uses_the_data_segment() {
        let mut h = Host::new().expect("host runner");
        // 67 89 07 = mov [bx], eax
        let mut s = MachineState::default();
        s.regs[0] = 0xDEAD_BEEF;
        s.regs[3] = 0xFFFF_0120;
        s.regs[4] = h.base() + STACK_TOP;
        // SAFETY: writes 4 bytes at DS:0x120, inside the data window.
        let out = unsafe { h.run(&[0x67, 0x89, 0x07], &s, false) };
        assert_eq!(&out.data[0x120..0x124], &[0xEF, 0xBE, 0xAD, 0xDE]);
        // aaa is invalid in 64-bit mode but runs here: 37
        s.regs[0] = 0x000F;
        // SAFETY: AAA touches no memory.
        let out = unsafe { h.run(&[0x37], &s, false) };
        assert_eq!(out.regs[0] & 0xFFFF, 0x0105);
    }

    #[test]
    fn sixteen_bit_code_segment() {
        let mut h = Host::new().expect("host runner");
        let mut s = MachineState::default();
        s.regs[0] = 0x1234_FFFF;
        s.regs[3] = 0x0000_0140;
        s.regs[4] = h.base() + STACK_TOP;
        // 16-bit code: 40 = inc ax (wraps, upper half kept); 89 07 = mov [bx], ax
        // SAFETY: writes 2 bytes at DS:0x140, inside the data window.
        let out = unsafe { h.run(&[0x40, 0x89, 0x07], &s, true) };
        assert_eq!(out.regs[0], 0x1234_0000);
        assert_eq!(&out.data[0x140..0x143], &[0, 0, s.data[0x142]]);
        assert_ne!(out.eflags & 0x40, 0, "ZF");
    }
}
