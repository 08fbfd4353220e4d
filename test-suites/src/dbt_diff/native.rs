//! Generator of the forms the translator emits natively beyond plain ALU
//! and moves, with their edge cases: one-operand MUL/IMUL, DIV/IDIV
//! (zero divisor, quotient overflow, IDIV by -1 and of the most negative
//! dividend), BT/BTS/BTR/BTC (register and immediate offsets, counts
//! beyond the width), BSF/BSR (zero source), rotates by an immediate whose
//! OF is then read, load-modify-store through one operand (the paired
//! TLB check, also on the read-only and not-present pages), string
//! instructions with DF=1 (blocks translated for each DF), TEST r/m, r
//! with memory, BSWAP, PAUSE and LEAVE.

use super::Gen;

impl Gen<'_> {
    /// Emits one of the natively translated forms above.
    pub(super) fn native_form(&mut self) {
        let w = |s: u8| u8::from(s != 1);
        match self.rng.below(9) {
            // test r/m, r (memory), bswap, pause, a frame left by LEAVE
            8 => match self.rng.below(4) {
                0 => {
                    let s = self.size();
                    self.prefix(s);
                    self.b(&[0x84 + w(s)]);
                    let r = self.src();
                    self.modrm_mem(r);
                }
                1 => {
                    let d = self.dst(4);
                    self.b(&[0x0F, 0xC8 + d]);
                }
                2 => self.b(&[0xF3, 0x90]),
                _ => {
                    // push ebp; mov ebp, esp; push imm8; mov eax, [ebp-4]; leave
                    let v = self.rng.u8();
                    self.b(&[0x55, 0x89, 0xE5, 0x6A, v, 0x8B, 0x45, 0xFC, 0xC9]);
                }
            },
            // MUL/IMUL/DIV/IDIV r/m (F6/F7 /4../7)
            0 | 1 => {
                let s = self.size();
                let op = 4 + self.rng.below(4) as u8;
                if op >= 6 && self.rng.chance(50) {
                    // Make the quotient fit (or not) on purpose: small or
                    // sign-extended high half.
                    match self.rng.below(3) {
                        0 => self.b(&[0x31, 0xD2]),                   // xor edx, edx
                        1 => self.b(&[0x99]),                         // cdq
                        _ => self.b(&[0xBA, 0xFF, 0xFF, 0xFF, 0xFF]), // mov edx, -1
                    }
                }
                if op == 7 && self.rng.chance(20) {
                    // idiv of the most negative dividend by -1
                    self.b(&[
                        0xBA, 0, 0, 0, 0x80, 0x31, 0xC0, 0xB9, 0xFF, 0xFF, 0xFF, 0xFF,
                    ]);
                }
                self.prefix(s);
                self.b(&[0xF6 + w(s)]);
                if self.rng.chance(65) {
                    let r = self.src();
                    self.modrm_reg(op, r);
                } else {
                    self.modrm_mem(op);
                }
            }
            // BT/BTS/BTR/BTC r/m, r | r/m, imm8
            2 => {
                let s = if self.rng.chance(25) { 2 } else { 4 };
                self.prefix(s);
                let k = self.rng.below(4) as u8;
                if self.rng.chance(50) {
                    self.b(&[0x0F, 0xA3 + 8 * k]);
                    let (d, r) = (self.dst(s), self.src());
                    self.modrm_reg(r, d);
                } else {
                    self.b(&[0x0F, 0xBA]);
                    if self.rng.chance(60) {
                        let d = self.dst(s);
                        self.modrm_reg(4 + k, d);
                    } else {
                        self.modrm_mem(4 + k);
                    }
                    let c = self.rng.below(70) as u8;
                    self.b(&[c]);
                }
                if self.rng.chance(50) {
                    // setc / adc reads the bit
                    let r = self.rng.below(4) as u8;
                    self.b(&[0x0F, 0x92, 0xC0 | r]);
                }
            }
            // BSF/BSR r, r/m (a zero source now and then)
            3 => {
                let s = if self.rng.chance(25) { 2 } else { 4 };
                let d = self.dst(s);
                if self.rng.chance(25) {
                    self.b(&[0x31, 0xC0 | (d << 3) | ((d + 1) & 3)]); // xor next, next
                }
                self.prefix(s);
                let k = self.rng.below(2) as u8;
                self.b(&[0x0F, 0xBC + k]);
                if self.rng.chance(60) {
                    let r = self.src();
                    self.modrm_reg(d, r);
                } else {
                    self.modrm_mem(d);
                }
            }
            // ROL/ROR r, imm then read OF (seto / jo / pushfd)
            4 => {
                let s = self.size();
                self.prefix(s);
                let reg = self.rng.below(2) as u8;
                self.b(&[0xC0 + w(s)]);
                let d = self.dst(s);
                self.modrm_reg(reg, d);
                let c = self.rng.below(40) as u8;
                self.b(&[c]);
                match self.rng.below(3) {
                    0 => {
                        let r = self.rng.below(4) as u8;
                        self.b(&[0x0F, 0x90, 0xC0 | r]);
                    }
                    1 => self.b(&[0x70, 0x01, 0x90]),
                    _ => {
                        let r = self.rng.below(4) as u8;
                        self.b(&[0x9C, 0x58 + r]);
                    }
                }
            }
            // mov r, [m]; 1-3 register ops; mov [m], r  (one operand)
            5 | 6 => {
                let s = self.size();
                let r = self.dst(s);
                let start = self.out.len();
                self.prefix(s);
                self.b(&[0x8A + w(s)]);
                self.modrm_mem(r);
                let load = self.out[start..].to_vec();
                for _ in 0..1 + self.rng.below(3) {
                    let op = self.rng.below(8) as u8;
                    let src = self.src();
                    self.b(&[op * 8 + 1, 0xC0 | (src << 3) | r.min(3)]);
                }
                // the same operand bytes with the store opcode
                let mut store = load;
                let o = store.iter().position(|&b| b == 0x8A + w(s)).unwrap_or(0);
                store[o] = 0x88 + w(s);
                self.b(&store);
            }
            // std; lods/stos (b/w/d); cld
            _ => {
                self.b(&[0xFD]);
                for _ in 0..1 + self.rng.below(3) {
                    let s = self.size();
                    self.prefix(s);
                    let base = if self.rng.chance(50) { 0xAC } else { 0xAA };
                    self.b(&[base + u8::from(s != 1)]);
                }
                if self.rng.chance(80) {
                    self.b(&[0xFC]);
                }
            }
        }
    }
}
