//! Byte sinks: where serial output, the 0xE9 debug console, the 0x402
//! SeaBIOS log and the POST log go. Implementations for stdout, a file,
//! nothing, and a shared in-memory capture buffer (for tests and for the
//! machine's `--exit-on` matching). Not modelled: flow control (sinks never
//! push back).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::bus::lock;

/// Something that accepts output bytes one at a time.
pub trait ByteSink: Send {
    fn write(&mut self, byte: u8);
    fn flush(&mut self) {}
}

/// Discards everything.
#[derive(Debug, Default)]
pub struct NullSink;

impl ByteSink for NullSink {
    fn write(&mut self, _byte: u8) {}
}

/// Writes to the process's stdout, flushing each byte so interactive
/// consoles echo at once.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl ByteSink for StdoutSink {
    fn write(&mut self, byte: u8) {
        let mut out = std::io::stdout().lock();
        if out.write_all(&[byte]).and_then(|_| out.flush()).is_err() {
            log::debug!("stdout sink: write failed");
        }
    }
}

/// Appends to a file, flushing at each newline and on drop.
pub struct FileSink {
    out: BufWriter<File>,
}

impl FileSink {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(FileSink {
            out: BufWriter::new(File::create(path)?),
        })
    }
}

impl ByteSink for FileSink {
    fn write(&mut self, byte: u8) {
        let r = self.out.write_all(&[byte]);
        let r = r.and_then(|_| {
            if byte == b'\n' {
                self.out.flush()
            } else {
                Ok(())
            }
        });
        if let Err(e) = r {
            log::warn!("file sink: {e}");
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Collects bytes in a buffer shared with whoever holds [`CaptureSink::buffer`].
#[derive(Clone, Debug, Default)]
pub struct CaptureSink {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CaptureSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn buffer(&self) -> Arc<Mutex<Vec<u8>>> {
        self.buf.clone()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        lock(&self.buf).clone()
    }
}

impl ByteSink for CaptureSink {
    fn write(&mut self, byte: u8) {
        lock(&self.buf).push(byte);
    }
}

/// Sends each byte to two sinks (e.g. the terminal and a capture buffer).
pub struct TeeSink<A: ByteSink, B: ByteSink>(pub A, pub B);

impl<A: ByteSink, B: ByteSink> ByteSink for TeeSink<A, B> {
    fn write(&mut self, byte: u8) {
        self.0.write(byte);
        self.1.write(byte);
    }

    fn flush(&mut self) {
        self.0.flush();
        self.1.flush();
    }
}

impl ByteSink for Box<dyn ByteSink> {
    fn write(&mut self, byte: u8) {
        (**self).write(byte)
    }

    fn flush(&mut self) {
        (**self).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_tee_and_file() {
        let cap = CaptureSink::new();
        let mut tee = TeeSink(cap.clone(), NullSink);
        for b in b"hi\n" {
            tee.write(*b);
        }
        assert_eq!(cap.contents(), b"hi\n");
        let path = std::env::temp_dir().join(format!("oxpc-sink-{}.txt", std::process::id()));
        {
            let mut f = FileSink::create(&path).unwrap();
            f.write(b'x');
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
        let _ = std::fs::remove_file(&path);
    }
}
