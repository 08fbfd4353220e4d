//! Diagnostic ports: the POST code port 0x80 (latched value, optionally
//! logged as one hex line per code), and the Bochs/QEMU debug console used at
//! 0xE9 (guest debug output) and 0x402 (where SeaBIOS writes its log).
//!
//! A debug console read returns 0xE9, which is how SeaBIOS and others detect
//! that the port is there. Not modelled: a POST-code display, input on the
//! debug console.

use serde::{Deserialize, Serialize};

use crate::bus::widen;
use crate::bus::PortIo;
use crate::sink::ByteSink;

/// Port 0x80.
pub struct PostPort {
    pub state: PostState,
    log: Option<Box<dyn ByteSink>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PostState {
    pub last: u8,
    pub writes: u64,
}

impl PostPort {
    /// `log` receives one line "xx\n" per POST code written.
    pub fn new(log: Option<Box<dyn ByteSink>>) -> Self {
        PostPort {
            state: PostState::default(),
            log,
        }
    }

    pub fn last(&self) -> u8 {
        self.state.last
    }
}

impl PortIo for PostPort {
    fn read(&mut self, _port: u16, size: u8) -> u32 {
        widen(self.state.last, size)
    }

    fn write(&mut self, _port: u16, _size: u8, val: u32) {
        let v = val as u8;
        self.state.last = v;
        self.state.writes += 1;
        if let Some(log) = &mut self.log {
            for b in format!("{v:02x}\n").bytes() {
                log.write(b);
            }
        }
    }
}

/// The value a debug console returns on reads.
pub const DEBUGCON_READBACK: u8 = 0xE9;

/// A debug console port (0xE9 or 0x402): written bytes go to the sink.
pub struct DebugCon {
    sink: Box<dyn ByteSink>,
}

impl DebugCon {
    pub fn new(sink: Box<dyn ByteSink>) -> Self {
        DebugCon { sink }
    }
}

impl PortIo for DebugCon {
    fn read(&mut self, _port: u16, size: u8) -> u32 {
        widen(DEBUGCON_READBACK, size)
    }

    fn write(&mut self, _port: u16, size: u8, val: u32) {
        // A word or dword write sends its bytes in order, like OUTS would.
        for i in 0..size.clamp(1, 4) {
            self.sink.write((val >> (8 * i)) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::CaptureSink;
    use crate::testutil::hammer;

    #[test]
    fn post_port_latches_and_logs() {
        let cap = CaptureSink::new();
        let mut p = PostPort::new(Some(Box::new(cap.clone())));
        p.write(0x80, 1, 0x1234);
        assert_eq!(p.read(0x80, 1), 0x34);
        assert_eq!(p.last(), 0x34);
        p.write(0x80, 1, 0xAA);
        assert_eq!(cap.contents(), b"34\naa\n");
        let mut q = PostPort::new(None);
        hammer(&mut q, &[0x80], 100, 5);
    }

    #[test]
    fn debugcon_readback_and_output() {
        let cap = CaptureSink::new();
        let mut d = DebugCon::new(Box::new(cap.clone()));
        assert_eq!(d.read(0x402, 1), 0xE9);
        for b in b"Sea" {
            d.write(0x402, 1, *b as u32);
        }
        d.write(0x402, 2, u32::from_le_bytes([b'B', b'I', 0, 0]));
        assert_eq!(cap.contents(), b"SeaBI");
        hammer(&mut d, &[0xE9], 100, 5);
    }
}
