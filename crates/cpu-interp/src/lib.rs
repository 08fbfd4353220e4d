//! Reference interpreter (being written, issue 2).

pub mod x87;
