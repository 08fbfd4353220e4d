//! System control port A (0x92): "fast A20" (bit 1) and fast reset (bit 0,
//! a 0-to-1 transition resets the CPU). Other bits are kept as written. Not
//! modelled: the security lock (bit 3) and the disk activity LEDs (bits 6-7).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::bus::widen;
use crate::bus::PortIo;
use crate::sysctl::SystemControl;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub value: u8,
}

pub struct Port92 {
    pub state: State,
    sys: Arc<SystemControl>,
}

impl Port92 {
    pub fn new(sys: Arc<SystemControl>) -> Self {
        Port92 {
            state: State::default(),
            sys,
        }
    }
}

impl PortIo for Port92 {
    fn read(&mut self, _port: u16, size: u8) -> u32 {
        let v = (self.state.value & !0x02) | u8::from(self.sys.a20()) << 1;
        widen(v, size)
    }

    fn write(&mut self, _port: u16, _size: u8, val: u32) {
        let val = val as u8;
        let old = self.state.value;
        self.state.value = val;
        self.sys.set_a20(val & 2 != 0);
        if val & 1 != 0 && old & 1 == 0 {
            self.sys.request_reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hammer;

    #[test]
    fn fast_a20_and_reset() {
        let sys = SystemControl::new();
        let mut p = Port92::new(sys.clone());
        assert_eq!(p.read(0x92, 1), 0);
        p.write(0x92, 1, 0x02);
        assert!(sys.a20());
        assert_eq!(p.read(0x92, 1), 0x02);
        assert!(!sys.reset_pending());
        p.write(0x92, 1, 0x03);
        assert!(sys.take_reset());
        p.write(0x92, 1, 0x03);
        assert!(!sys.take_reset(), "needs a 0-to-1 transition");
        sys.set_a20(false);
        assert_eq!(p.read(0x92, 1), 0x01, "reads reflect A20 set elsewhere");
        hammer(&mut p, &[0x92], 1000, 3);
    }
}
