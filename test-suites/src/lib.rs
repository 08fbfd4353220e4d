//! Conformance runners and OS boot tests (host-CPU oracle, differential fuzzing, guest boots).
