//! The instruction forms the oracle covers: every legacy `iced_x86::Code`
//! valid in 32-bit mode whose mnemonic is a user-mode integer instruction
//! (ALU, INC/DEC, NEG/NOT, MUL/IMUL/DIV/IDIV, shifts and rotates, bit ops,
//! BSWAP, SETcc, CMOVcc, CMPXCHG(8B), XADD, XCHG, BCD, MOVSX/MOVZX, MOV,
//! LEA, CBW..CDQ, LAHF/SAHF, flag ops, PUSH/POP/PUSHA/POPA/ENTER/LEAVE,
//! PUSHF), each with register and 16-/32-bit-address memory operands
//! where it has a ModRM r/m, plus the string instructions and XLAT built
//! from raw opcodes (every size, both address sizes, REP/REPE/REPNE).
//!
//! Left out: control transfers, segment-register forms, I/O, system and
//! privileged instructions, POPF, BOUND/INTO, instructions newer than
//! the i686 or absent on the host (CMPXCHG486).

use iced_x86::{Code, CpuidFeature, Mnemonic, OpCodeOperandKind as K};

/// Where the r/m operand of a form points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No memory operand (the r/m operand, if any, is a register).
    Reg,
    /// Memory operand with 32-bit addressing.
    Mem32,
    /// Memory operand with 16-bit addressing (0x67).
    Mem16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    Movs,
    Cmps,
    Stos,
    Lods,
    Scas,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rep {
    None,
    /// F3: REP / REPE.
    Repe,
    /// F2: REPNE.
    Repne,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Code {
        code: Code,
        mode: Mode,
    },
    Str {
        op: StrOp,
        size: u8,
        a16: bool,
        rep: Rep,
    },
    Xlat {
        a16: bool,
    },
}

impl Form {
    /// Whether the form exists in a 16-bit code segment too.
    pub fn valid16(&self) -> bool {
        match self {
            Form::Code { code, .. } => code.op_code().mode16(),
            _ => true,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Form::Code { code, mode } => match mode {
                Mode::Reg => format!("{code:?}"),
                Mode::Mem32 => format!("{code:?}/m32"),
                Mode::Mem16 => format!("{code:?}/m16"),
            },
            Form::Str { op, size, a16, rep } => {
                let r = match rep {
                    Rep::None => "",
                    Rep::Repe => "rep ",
                    Rep::Repne => "repne ",
                };
                let a = if *a16 { "/a16" } else { "/a32" };
                format!("{r}{op:?}{}{a}", size * 8)
            }
            Form::Xlat { a16 } => format!("Xlatb{}", if *a16 { "/a16" } else { "/a32" }),
        }
    }
}

fn mnemonic_covered(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Add | Or
            | Adc
            | Sbb
            | And
            | Sub
            | Xor
            | Cmp
            | Test
            | Inc
            | Dec
            | Neg
            | Not
            | Mul
            | Imul
            | Div
            | Idiv
            | Rol
            | Ror
            | Rcl
            | Rcr
            | Shl
            | Sal
            | Shr
            | Sar
            | Shld
            | Shrd
            | Bt
            | Bts
            | Btr
            | Btc
            | Bsf
            | Bsr
            | Bswap
            | Seto
            | Setno
            | Setb
            | Setae
            | Sete
            | Setne
            | Setbe
            | Seta
            | Sets
            | Setns
            | Setp
            | Setnp
            | Setl
            | Setge
            | Setle
            | Setg
            | Cmovo
            | Cmovno
            | Cmovb
            | Cmovae
            | Cmove
            | Cmovne
            | Cmovbe
            | Cmova
            | Cmovs
            | Cmovns
            | Cmovp
            | Cmovnp
            | Cmovl
            | Cmovge
            | Cmovle
            | Cmovg
            | Cmpxchg
            | Cmpxchg8b
            | Xadd
            | Xchg
            | Daa
            | Das
            | Aaa
            | Aas
            | Aam
            | Aad
            | Movsx
            | Movzx
            | Mov
            | Lea
            | Cbw
            | Cwde
            | Cwd
            | Cdq
            | Lahf
            | Sahf
            | Clc
            | Stc
            | Cmc
            | Cld
            | Std
            | Push
            | Pop
            | Pusha
            | Pushad
            | Popa
            | Popad
            | Pushf
            | Pushfd
            | Enter
            | Leave
            | Nop
            | Salc
    )
}

fn feature_ok(f: CpuidFeature) -> bool {
    use CpuidFeature::*;
    matches!(
        f,
        INTEL8086 | INTEL186 | INTEL286 | INTEL386 | INTEL486 | CMOV | CX8 | MULTIBYTENOP
    )
}

fn kind_ok(k: K) -> bool {
    matches!(
        k,
        K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r8_reg
            | K::r16_reg
            | K::r32_reg
            | K::r8_opcode
            | K::r16_opcode
            | K::r32_opcode
            | K::mem
            | K::mem_offs
            | K::al
            | K::cl
            | K::ax
            | K::eax
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm16
            | K::imm32
    )
}

/// Whether the oracle covers `code` (in some mode).
pub fn code_covered(code: Code) -> bool {
    let oc = code.op_code();
    oc.mode32()
        && mnemonic_covered(code.mnemonic())
        && code.cpuid_features().iter().all(|&f| feature_ok(f))
        && oc.op_kinds().iter().all(|&k| kind_ok(k))
}

/// Every form, in a fixed order.
pub fn all_forms() -> Vec<Form> {
    let mut v = Vec::new();
    for code in cpu_interp::dispatch::legacy_codes() {
        if !code_covered(code) {
            continue;
        }
        let kinds = code.op_code().op_kinds();
        let rm = kinds
            .iter()
            .any(|k| matches!(k, K::r8_or_mem | K::r16_or_mem | K::r32_or_mem));
        let mem_only = kinds.iter().any(|k| matches!(k, K::mem | K::mem_offs));
        if !mem_only {
            v.push(Form::Code {
                code,
                mode: Mode::Reg,
            });
        }
        if rm || mem_only {
            v.push(Form::Code {
                code,
                mode: Mode::Mem32,
            });
            v.push(Form::Code {
                code,
                mode: Mode::Mem16,
            });
        }
    }
    for op in [
        StrOp::Movs,
        StrOp::Cmps,
        StrOp::Stos,
        StrOp::Lods,
        StrOp::Scas,
    ] {
        let reps: &[Rep] = match op {
            StrOp::Cmps | StrOp::Scas => &[Rep::None, Rep::Repe, Rep::Repne],
            _ => &[Rep::None, Rep::Repe],
        };
        for size in [1, 2, 4] {
            for a16 in [false, true] {
                for &rep in reps {
                    v.push(Form::Str { op, size, a16, rep });
                }
            }
        }
    }
    v.push(Form::Xlat { a16: false });
    v.push(Form::Xlat { a16: true });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_the_families() {
        let forms = all_forms();
        let has = |c: Code, m: Mode| forms.contains(&Form::Code { code: c, mode: m });
        assert!(has(Code::Add_rm32_r32, Mode::Reg));
        assert!(has(Code::Add_rm16_imm8, Mode::Mem16));
        assert!(has(Code::Inc_r32, Mode::Reg));
        assert!(has(Code::Inc_rm8, Mode::Mem32));
        assert!(has(Code::Daa, Mode::Reg));
        assert!(has(Code::Pushad, Mode::Reg));
        assert!(has(Code::Shld_rm16_r16_CL, Mode::Mem32));
        assert!(has(Code::Cmpxchg8b_m64, Mode::Mem16));
        assert!(has(Code::Lea_r32_m, Mode::Mem32));
        assert!(has(Code::Mov_EAX_moffs32, Mode::Mem16));
        assert!(!has(Code::Lea_r32_m, Mode::Reg));
        // not covered: control flow, segment registers, the 486 A-step CMPXCHG
        assert!(!code_covered(Code::Jmp_rel32_32));
        assert!(!code_covered(Code::Pushd_ES));
        assert!(!code_covered(Code::Cmpxchg486_rm8_r8));
        assert!(forms.len() > 600, "{} forms", forms.len());
    }
}
