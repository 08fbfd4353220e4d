//! Output plumbing the machine adds around `devices::sink`: sinks shared
//! between the machine and its devices (so a reset or a rebuilt device
//! keeps writing to the same place), and a sink that watches its stream
//! for a string (`--until-serial`).
//!
//! Not modelled: multi-pattern matching, matching across different sinks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use devices::bus::lock;
use devices::sink::ByteSink;

/// A sink several owners write to.
#[derive(Clone)]
pub struct SharedSink(Arc<Mutex<Box<dyn ByteSink>>>);

impl SharedSink {
    pub fn new(sink: Box<dyn ByteSink>) -> SharedSink {
        SharedSink(Arc::new(Mutex::new(sink)))
    }
}

impl ByteSink for SharedSink {
    fn write(&mut self, byte: u8) {
        lock(&self.0).write(byte)
    }

    fn flush(&mut self) {
        lock(&self.0).flush()
    }
}

/// A string to look for in output streams; set once seen.
pub struct Watch {
    pattern: Vec<u8>,
    hit: AtomicBool,
}

impl Watch {
    pub fn new(pattern: &str) -> Arc<Watch> {
        Arc::new(Watch {
            pattern: pattern.as_bytes().to_vec(),
            hit: AtomicBool::new(pattern.is_empty()),
        })
    }

    pub fn hit(&self) -> bool {
        self.hit.load(Ordering::Acquire)
    }

    /// Marks the pattern as seen (for matchers outside this module).
    pub(crate) fn fire(&self) {
        self.hit.store(true, Ordering::Release);
    }

    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// Checks a whole text (e.g. the VGA text screen).
    pub fn check_text(&self, text: &str) {
        if !self.pattern.is_empty()
            && text
                .as_bytes()
                .windows(self.pattern.len())
                .any(|w| w == self.pattern)
        {
            self.hit.store(true, Ordering::Release);
        }
    }
}

/// Passes bytes on to `inner` and tells `watch` when its pattern has gone by.
pub struct WatchSink<S: ByteSink> {
    inner: S,
    watch: Arc<Watch>,
    tail: Vec<u8>,
}

impl<S: ByteSink> WatchSink<S> {
    pub fn new(inner: S, watch: Arc<Watch>) -> Self {
        WatchSink {
            inner,
            watch,
            tail: Vec::new(),
        }
    }
}

impl<S: ByteSink> ByteSink for WatchSink<S> {
    fn write(&mut self, byte: u8) {
        self.inner.write(byte);
        let n = self.watch.pattern.len();
        if n == 0 {
            return;
        }
        if self.tail.len() == n {
            self.tail.remove(0);
        }
        self.tail.push(byte);
        if self.tail == self.watch.pattern {
            self.watch.hit.store(true, Ordering::Release);
        }
    }

    fn flush(&mut self) {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::sink::{CaptureSink, NullSink};

    #[test]
    fn watch_sees_pattern_across_writes() {
        let w = Watch::new("boot ok");
        let cap = CaptureSink::new();
        let mut s = WatchSink::new(SharedSink::new(Box::new(cap.clone())), w.clone());
        for b in b"xx boot o" {
            s.write(*b);
        }
        assert!(!w.hit());
        s.write(b'k');
        assert!(w.hit());
        assert_eq!(cap.contents(), b"xx boot ok");
    }

    #[test]
    fn watch_on_text_and_empty_pattern() {
        let w = Watch::new("A:\\>");
        w.check_text("line\nA:\\");
        assert!(!w.hit());
        w.check_text("line\nA:\\>\n");
        assert!(w.hit());
        assert!(Watch::new("").hit());
        let mut s = WatchSink::new(NullSink, Watch::new(""));
        s.write(1);
    }
}
