//! Per-form fast handlers for the hottest 16/32-bit register/memory forms,
//! chosen at decode time by [`specialize`] in place of the generic family
//! handler.
//!
//! Each handler has exactly the semantics of the generic one it replaces
//! (same operand order, same fault-before-write discipline, same lazy flag
//! record); it only skips the per-execution operand-kind dispatch, using the
//! register indices and immediate `Decoded` carries. Forms not listed here
//! (8-bit operands, ADC/SBB, anything unusual) keep the generic handler.

use iced_x86::{Code, OpKind};

use super::alu::{compute, AluOp};
use crate::cpu::{Cpu, NO_REG};
use crate::decode::Decoded;
use crate::dispatch::Handler;
use crate::exception::Result;
use crate::flags::FlagOp;
use crate::state::fl;

// Handlers are generic over the operand width `W` (2 or 4 bytes); `gpr`
// and `set_gpr` fold to plain (masked) register accesses for a constant W.

/// MOV r, r
fn mov_r_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.gpr(d.r1 as usize, W);
    cpu.set_gpr(d.r0 as usize, W, v);
    Ok(())
}

/// MOV r, imm
fn mov_r_imm<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    cpu.set_gpr(d.r0 as usize, W, d.imm);
    Ok(())
}

/// MOV r, m
fn mov_r_m<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = cpu.ea(d);
    let v = cpu.read(d.mem.seg as usize, off, W)?;
    cpu.set_gpr(d.r0 as usize, W, v);
    Ok(())
}

/// MOV m, r
fn mov_m_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = cpu.ea(d);
    let v = cpu.gpr(d.r1 as usize, W);
    cpu.write(d.mem.seg as usize, off, W, v)
}

/// MOV m, imm
fn mov_m_imm<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = cpu.ea(d);
    cpu.write(d.mem.seg as usize, off, W, d.imm)
}

/// LEA r, m (the offset, already truncated to the address size, then to
/// the operand size)
fn lea_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let ea = cpu.ea(d);
    cpu.set_gpr(d.r0 as usize, W, ea);
    Ok(())
}

#[inline(always)]
fn alu_r<const W: u8>(cpu: &mut Cpu, d: &Decoded, op: AluOp, b: u32) {
    let i = d.r0 as usize;
    let (r, lf) = compute(op, W, cpu.gpr(i, W), b, false);
    if op != AluOp::Cmp {
        cpu.set_gpr(i, W, r);
    }
    cpu.s.flags = lf;
}

/// Maps the const parameter of the ALU handlers to the operation.
const fn alu_op(n: u8) -> AluOp {
    match n {
        0 => AluOp::Add,
        1 => AluOp::Or,
        4 => AluOp::And,
        5 => AluOp::Sub,
        6 => AluOp::Xor,
        _ => AluOp::Cmp,
    }
}

/// ADD/OR/AND/SUB/XOR/CMP r, r
fn alu_r_r<const OP: u8, const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let b = cpu.gpr(d.r1 as usize, W);
    alu_r::<W>(cpu, d, alu_op(OP), b);
    Ok(())
}

/// ADD/OR/AND/SUB/XOR/CMP r, imm
fn alu_r_imm<const OP: u8, const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    alu_r::<W>(cpu, d, alu_op(OP), d.imm);
    Ok(())
}

/// ADD/OR/AND/SUB/XOR/CMP r, m
fn alu_r_m<const OP: u8, const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let off = cpu.ea(d);
    let b = cpu.read(d.mem.seg as usize, off, W)?;
    alu_r::<W>(cpu, d, alu_op(OP), b);
    Ok(())
}

/// TEST r, r
fn test_r_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let a = cpu.gpr(d.r0 as usize, W);
    let b = cpu.gpr(d.r1 as usize, W);
    cpu.s.flags = compute(AluOp::And, W, a, b, false).1;
    Ok(())
}

/// TEST r, imm
fn test_r_imm<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let a = cpu.gpr(d.r0 as usize, W);
    cpu.s.flags = compute(AluOp::And, W, a, d.imm, false).1;
    Ok(())
}

/// INC / DEC r: CF is settled into `eflags`, the record gives the rest.
#[inline(always)]
fn inc_dec_r<const W: u8>(cpu: &mut Cpu, d: &Decoded, inc: bool) {
    let i = d.r0 as usize;
    let a = cpu.gpr(i, W);
    let r = if inc {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    } & super::mask(W);
    cpu.set_gpr(i, W, r);
    let cf = cpu.s.cf();
    cpu.s.eflags = (cpu.s.eflags & !fl::CF) | cf as u32;
    let op = if inc { FlagOp::Inc } else { FlagOp::Dec };
    cpu.s.flags.set(op, W, a, 1, r);
}

fn inc_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    inc_dec_r::<W>(cpu, d, true);
    Ok(())
}

fn dec_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    inc_dec_r::<W>(cpu, d, false);
    Ok(())
}

/// PUSH r
fn push_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.gpr(d.r0 as usize, W);
    cpu.push(v, W)
}

/// POP r (SP is incremented before the register is written, so POP SP
/// loads the popped value).
fn pop_r<const W: u8>(cpu: &mut Cpu, d: &Decoded) -> Result<()> {
    let v = cpu.pop(W)?;
    cpu.set_gpr(d.r0 as usize, W, v);
    Ok(())
}

/// The three fast ALU forms of one operation and width:
/// (r, r), (r, imm), (r, m).
type AluForms = (Handler, Handler, Handler);

const fn alu_forms<const OP: u8, const W: u8>() -> AluForms {
    (alu_r_r::<OP, W>, alu_r_imm::<OP, W>, alu_r_m::<OP, W>)
}

/// Which ALU form a code is: (operation, width, source is an immediate).
fn alu_code(code: Code) -> Option<(u8, u8, bool)> {
    use Code::*;
    Some(match code {
        Add_rm32_r32 | Add_r32_rm32 => (0, 4, false),
        Add_rm32_imm32 | Add_rm32_imm8 | Add_EAX_imm32 => (0, 4, true),
        Or_rm32_r32 | Or_r32_rm32 => (1, 4, false),
        Or_rm32_imm32 | Or_rm32_imm8 | Or_EAX_imm32 => (1, 4, true),
        And_rm32_r32 | And_r32_rm32 => (4, 4, false),
        And_rm32_imm32 | And_rm32_imm8 | And_EAX_imm32 => (4, 4, true),
        Sub_rm32_r32 | Sub_r32_rm32 => (5, 4, false),
        Sub_rm32_imm32 | Sub_rm32_imm8 | Sub_EAX_imm32 => (5, 4, true),
        Xor_rm32_r32 | Xor_r32_rm32 => (6, 4, false),
        Xor_rm32_imm32 | Xor_rm32_imm8 | Xor_EAX_imm32 => (6, 4, true),
        Cmp_rm32_r32 | Cmp_r32_rm32 => (7, 4, false),
        Cmp_rm32_imm32 | Cmp_rm32_imm8 | Cmp_EAX_imm32 => (7, 4, true),
        Add_rm16_r16 | Add_r16_rm16 => (0, 2, false),
        Add_rm16_imm16 | Add_rm16_imm8 | Add_AX_imm16 => (0, 2, true),
        Or_rm16_r16 | Or_r16_rm16 => (1, 2, false),
        Or_rm16_imm16 | Or_rm16_imm8 | Or_AX_imm16 => (1, 2, true),
        And_rm16_r16 | And_r16_rm16 => (4, 2, false),
        And_rm16_imm16 | And_rm16_imm8 | And_AX_imm16 => (4, 2, true),
        Sub_rm16_r16 | Sub_r16_rm16 => (5, 2, false),
        Sub_rm16_imm16 | Sub_rm16_imm8 | Sub_AX_imm16 => (5, 2, true),
        Xor_rm16_r16 | Xor_r16_rm16 => (6, 2, false),
        Xor_rm16_imm16 | Xor_rm16_imm8 | Xor_AX_imm16 => (6, 2, true),
        Cmp_rm16_r16 | Cmp_r16_rm16 => (7, 2, false),
        Cmp_rm16_imm16 | Cmp_rm16_imm8 | Cmp_AX_imm16 => (7, 2, true),
        _ => return None,
    })
}

fn alu_handlers(op: u8, w: u8) -> AluForms {
    match (op, w) {
        (0, 4) => alu_forms::<0, 4>(),
        (1, 4) => alu_forms::<1, 4>(),
        (4, 4) => alu_forms::<4, 4>(),
        (5, 4) => alu_forms::<5, 4>(),
        (6, 4) => alu_forms::<6, 4>(),
        (7, 4) => alu_forms::<7, 4>(),
        (0, _) => alu_forms::<0, 2>(),
        (1, _) => alu_forms::<1, 2>(),
        (4, _) => alu_forms::<4, 2>(),
        (5, _) => alu_forms::<5, 2>(),
        (6, _) => alu_forms::<6, 2>(),
        _ => alu_forms::<7, 2>(),
    }
}

/// A fast handler for `d` if its form has one.
pub fn specialize(d: &Decoded) -> Option<Handler> {
    use Code::*;
    let code = d.ins.code();
    let reg0 = d.r0 != NO_REG;
    let reg1 = d.r1 != NO_REG;
    let mem0 = !reg0 && d.ins.op0_kind() == OpKind::Memory;
    let mem1 = !reg1 && d.ins.op_count() > 1 && d.ins.op1_kind() == OpKind::Memory;
    if let Some((op, w, imm)) = alu_code(code) {
        let (rr, ri, rm) = alu_handlers(op, w);
        return match () {
            _ if !reg0 => None,
            _ if imm => Some(ri),
            _ if reg1 => Some(rr),
            _ if mem1 => Some(rm),
            _ => None,
        };
    }
    let h: Handler = match code {
        Mov_r32_rm32 | Mov_rm32_r32 if reg0 && reg1 => mov_r_r::<4>,
        Mov_r32_rm32 if reg0 && mem1 => mov_r_m::<4>,
        Mov_rm32_r32 if mem0 && reg1 => mov_m_r::<4>,
        Mov_r32_imm32 | Mov_rm32_imm32 if reg0 => mov_r_imm::<4>,
        Mov_rm32_imm32 if mem0 => mov_m_imm::<4>,
        Lea_r32_m if reg0 => lea_r::<4>,
        Test_rm32_r32 if reg0 && reg1 => test_r_r::<4>,
        Test_rm32_imm32 | Test_EAX_imm32 if reg0 => test_r_imm::<4>,
        Inc_r32 | Inc_rm32 if reg0 => inc_r::<4>,
        Dec_r32 | Dec_rm32 if reg0 => dec_r::<4>,
        Push_r32 if reg0 => push_r::<4>,
        Pop_r32 if reg0 => pop_r::<4>,
        Mov_r16_rm16 | Mov_rm16_r16 if reg0 && reg1 => mov_r_r::<2>,
        Mov_r16_rm16 if reg0 && mem1 => mov_r_m::<2>,
        Mov_rm16_r16 if mem0 && reg1 => mov_m_r::<2>,
        Mov_r16_imm16 | Mov_rm16_imm16 if reg0 => mov_r_imm::<2>,
        Mov_rm16_imm16 if mem0 => mov_m_imm::<2>,
        Lea_r16_m if reg0 => lea_r::<2>,
        Test_rm16_r16 if reg0 && reg1 => test_r_r::<2>,
        Test_rm16_imm16 | Test_AX_imm16 if reg0 => test_r_imm::<2>,
        Inc_r16 | Inc_rm16 if reg0 => inc_r::<2>,
        Dec_r16 | Dec_rm16 if reg0 => dec_r::<2>,
        Push_r16 if reg0 => push_r::<2>,
        Pop_r16 if reg0 => pop_r::<2>,
        _ => return None,
    };
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{asm16, asm32, TestMachine, CODE_BASE};
    use iced_x86::code_asm::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn decoded(code: &[u8]) -> Decoded {
        let mut dec = Decoder::with_ip(32, code, 0x1000, DecoderOptions::NONE);
        Decoded::new(dec.decode(), true)
    }

    #[test]
    fn hot_forms_get_fast_handlers_and_others_do_not() {
        // (Function pointers are not compared: rustc may duplicate small
        // functions per codegen unit.)
        let d = decoded(&[0x89, 0xD8]); // mov eax, ebx
        assert_eq!((d.r0, d.r1), (0, 3));
        for hot in [
            &[0x89, 0xD8][..],      // mov eax, ebx
            &[0x8B, 0x06],          // mov eax, [esi]
            &[0x89, 0x06],          // mov [esi], eax
            &[0xB9, 1, 0, 0, 0],    // mov ecx, 1
            &[0x01, 0xD8],          // add eax, ebx
            &[0x83, 0xE2, 0x7F],    // and edx, 0x7f
            &[0x3B, 0x06],          // cmp eax, [esi]
            &[0x85, 0xC0],          // test eax, eax
            &[0x8D, 0x44, 0x8E, 8], // lea eax, [esi+ecx*4+8]
            &[0x49],                // dec ecx
            &[0x53],                // push ebx
            &[0x5B],                // pop ebx
        ] {
            let d = decoded(hot);
            assert!(specialize(&d).is_some(), "{}", d.ins);
        }
        for generic in [
            &[0x01, 0x06][..], // add [esi], eax
            &[0x88, 0xE0],     // mov al, ah
            &[0x11, 0xD8],     // adc eax, ebx
            &[0x00, 0xD8],     // add al, bl
        ] {
            let d = decoded(generic);
            assert!(specialize(&d).is_none(), "{}", d.ins);
        }
    }

    #[test]
    fn fast_forms_compute_like_the_generic_ones() {
        let code = asm32(CODE_BASE as u64, |a| {
            a.mov(esi, 0x8000u32).unwrap();
            a.mov(dword_ptr(esi), 0x7FFF_FFFFu32).unwrap();
            a.mov(eax, dword_ptr(esi)).unwrap();
            a.add(eax, 1).unwrap(); // 0x8000_0000, OF
            a.mov(dword_ptr(esi + 4), eax).unwrap();
            a.mov(ebx, eax).unwrap();
            a.sub(ebx, dword_ptr(esi)).unwrap(); // 1
            a.push(ebx).unwrap();
            a.pop(ecx).unwrap();
            a.dec(ecx).unwrap(); // 0, ZF
            a.lea(edx, dword_ptr(esi + ecx * 4 + 8)).unwrap();
            a.test(eax, eax).unwrap(); // SF
            a.hlt().unwrap();
        });
        let mut m = TestMachine::flat32(&code);
        m.run();
        let s = &m.s;
        assert_eq!(s.regs[crate::state::EAX], 0x8000_0000);
        assert_eq!(s.regs[crate::state::EBX], 1);
        assert_eq!(s.regs[crate::state::ECX], 0);
        assert_eq!(s.regs[crate::state::EDX], 0x8008);
        assert_eq!(m.mmu.phys.read_u32(0x8004), 0x8000_0000);
        assert!(s.sf() && !s.zf() && !s.cf() && !s.of());
    }

    #[test]
    fn fast_16_bit_forms_keep_the_upper_halves() {
        let code = asm16(0, |a| {
            a.mov(eax, 0x1234_7FFFu32).unwrap();
            a.add(ax, 1).unwrap(); // 0x8000, OF
            a.mov(word_ptr(0x600), ax).unwrap();
            a.mov(ebx, 0xABCD_0000u32).unwrap();
            a.mov(bx, word_ptr(0x600)).unwrap();
            a.dec(bx).unwrap(); // 0x7FFF, OF
            a.push(bx).unwrap();
            a.pop(cx).unwrap();
            a.hlt().unwrap();
        });
        let mut m = TestMachine::real(&code);
        m.run();
        let s = &m.s;
        assert_eq!(s.regs[crate::state::EAX], 0x1234_8000);
        assert_eq!(s.regs[crate::state::EBX], 0xABCD_7FFF);
        assert_eq!(s.regs[crate::state::ECX] & 0xFFFF, 0x7FFF);
        assert_eq!(m.mmu.phys.read_u16(0x30600), 0x8000);
        assert!(s.of() && !s.zf() && !s.sf());
    }
}
