//! Golden tests of emitted code: a few representative blocks are
//! translated with placeholder addresses (so the output does not depend on
//! where the heap or the code buffer are), disassembled with iced and
//! compared with `tests/golden/<name>.txt`. Set `OXPC_BLESS=1` to accept
//! changes (rewrites the files).

use cpu_interp::harness::*;
use dbt::cache::Stubs;
use dbt::key::Key;
use iced_x86::code_asm::*;

const BASE: usize = 0x1000_0000;

fn golden(name: &str, code: &[u8], paged: bool) {
    golden_with(name, code, paged, false)
}

/// [`golden`]; with `ifconv`, the block's final branch is if-converted
/// over the instruction it skips where `dbt::emit::ifconv` allows.
fn golden_with(name: &str, code: &[u8], paged: bool, ifconv: bool) {
    let mut m = if paged {
        TestMachine::flat32_paged(code)
    } else {
        TestMachine::flat32(code)
    };
    let block = m.decoded_block().expect("block decodes");
    let key = Key::of(&m.s, CODE_BASE);
    let stubs = Stubs {
        enter: BASE - 0x1000,
        epilogue: BASE - 0xC00,
        exit_generic: BASE - 0x800,
        indirect_tail: BASE - 0x400,
        callout: BASE - 0x300,
        callout_light: BASE - 0x280,
        direct_exit: BASE - 0x200,
        entry_exit: BASE - 0x100,
        jc: 0x0000_7000_0000_0000,
        end: 0,
    };
    let skip = if ifconv {
        let last = block.ops.last().expect("non-empty block");
        let at = (last.ins.next_ip() - CODE_BASE as u64) as usize;
        let s = dbt::emit::ifconv::skipped(last, &code[at..], true);
        assert!(s.is_some(), "{name}: the final branch converts");
        s
    } else {
        None
    };
    let hints = dbt::emit::Hints {
        live_in: &|_| None,
        skip,
    };
    let t = dbt::emit::translate_with(&block, key, 7, BASE, stubs, true, &hints);
    let text = format!(
        "; guest\n{}; host ({} native, {} callouts)\n{}",
        dbt::disasm::guest_block(&block),
        t.native,
        t.callouts,
        dbt::disasm::host_code(&t.code, BASE as u64)
    );
    let path = format!("{}/tests/golden/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("OXPC_BLESS").is_ok() {
        std::fs::write(&path, &text).expect("write golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != text {
        panic!("{name}: emitted code differs from {path} (OXPC_BLESS=1 accepts):\n{text}");
    }
}

#[test]
fn golden_alu_loop() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.add(eax, ebx).unwrap();
        a.xor(ebx, eax).unwrap();
        a.rol(ebx, 3).unwrap();
        a.inc(edx).unwrap();
        a.and(edx, 1023).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
    });
    golden("alu_loop", &code, false);
}

#[test]
fn golden_load_store_flags() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut l = a.create_label();
        a.mov(eax, dword_ptr(esi + edx * 4)).unwrap();
        a.add(eax, ebx).unwrap();
        a.mov(dword_ptr(esi + edx * 4 + 8), eax).unwrap();
        a.adc(dword_ptr(edi), 5).unwrap();
        a.setc(cl).unwrap();
        a.jl(l).unwrap();
        a.set_label(&mut l).unwrap();
        a.nop().unwrap();
    });
    golden("load_store_flags", &code, true);
}

#[test]
fn golden_call_ret() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.push(ebp).unwrap();
        a.mov(ebp, esp).unwrap();
        a.mov(eax, dword_ptr(ebp + 8)).unwrap();
        a.pop(ebp).unwrap();
        a.ret().unwrap();
    });
    golden("call_ret", &code, false);
}

#[test]
fn golden_callouts() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.cmp(eax, 3).unwrap();
        a.cpuid().unwrap();
        a.rep().stosb().unwrap();
        a.mov(ah, 1u32).unwrap();
        a.jmp(eax).unwrap();
    });
    golden("callouts", &code, false);
}

#[test]
fn golden_string_ops() {
    let code = asm32(CODE_BASE as u64, |a| {
        a.cld().unwrap();
        a.lodsd().unwrap();
        a.stosb().unwrap();
        a.add(edx, eax).unwrap();
        a.ret().unwrap();
    });
    golden("string_ops", &code, false);
}

/// The first block of the benchmark's ALU loop (`bench::interp_loops::alu_loop`):
/// the ROL's OF correction stays pending past the store and dies at the AND.
#[test]
fn golden_bench_alu_block() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.mov(eax, dword_ptr(esi + edx * 4)).unwrap();
        a.add(eax, ebx).unwrap();
        a.xor(ebx, eax).unwrap();
        a.rol(ebx, 3).unwrap();
        a.mov(dword_ptr(esi + edx * 4), eax).unwrap();
        a.inc(edx).unwrap();
        a.and(edx, 1023).unwrap();
        a.test(eax, 1).unwrap();
        a.jz(top).unwrap();
    });
    golden("bench_alu_block", &code, true);
}

/// The benchmark's loop with its data-dependent branch over one ADD
/// if-converted (`dbt::emit::ifconv`): CMOV, a SETcc-counted icount, one
/// exit whose flag-saving path rebuilds the ADD's flags.
#[test]
fn golden_bench_alu_ifconv() {
    let code = asm32(CODE_BASE as u64, |a| {
        let mut top = a.create_label();
        let mut skip = a.create_label();
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
    });
    golden_with("bench_alu_ifconv", &code, true, true);
}
