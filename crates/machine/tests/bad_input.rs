//! A guest writing garbage to every I/O port, and reading them all back,
//! must not panic the machine; the machine keeps running afterwards.

use machine::{Exit, Machine, MachineConfig, Outputs, RunLimits};

use cpu_interp::Bus;

/// A BIOS that is one HLT loop with interrupts off.
fn halt_bios() -> Vec<u8> {
    let mut b = vec![0xF4u8; 64 << 10];
    b[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
    b[0] = 0xFA; // cli; then HLT
    b
}

/// xorshift64: reproducible garbage.
fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn every_port_gets_garbage() {
    let mut m = Machine::new(MachineConfig::new(halt_bios(), None), Outputs::default()).unwrap();
    let mut seed = 0x1234_5678_9ABC_DEF0u64;
    for round in 0..3 {
        for port in 0..=0xFFFFu16 {
            let r = next(&mut seed);
            let size = [1u8, 2, 4][(r % 3) as usize];
            m.bus.io_write(port, size, (r >> 8) as u32);
            m.bus.io_read(port, size);
            if port % 0x1000 == 0 {
                // Let the run loop apply and poll whatever was programmed.
                m.run_slice(1000);
            }
        }
        m.apply_memory_changes();
        let _ = m.render();
        let _ = m.text_screen();
        eprintln!("round {round} done, resets so far {}", m.resets);
    }
    let exit = m.run(
        &RunLimits {
            insns: Some(100_000),
            machine_ns: Some(50_000_000),
            ..RunLimits::default()
        },
        None,
    );
    assert!(matches!(exit, Exit::Dead | Exit::Timeout), "{exit:?}");
}
