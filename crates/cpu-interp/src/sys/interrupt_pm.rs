//! Protected-mode and V86 interrupt delivery and IRET (to be completed by
//! the system family: gates, stack switches, task gates, V86 returns).

use crate::cpu::Cpu;
use crate::exception::{Exception, Result};

use super::interrupt::Source;

/// Delivers `vector` through the IDT.
pub fn deliver(_cpu: &mut Cpu, vector: u8, _src: Source) -> Result<()> {
    log::warn!("protected-mode delivery of vector {vector} not implemented yet");
    Err(Exception::GP(0))
}

/// IRET in protected mode.
pub fn iret(_cpu: &mut Cpu, _size: u8) -> Result<()> {
    Err(Exception::GP(0))
}
