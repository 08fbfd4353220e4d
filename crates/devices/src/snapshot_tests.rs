//! Round-trip tests: every device's guest-visible `State` serialises and
//! deserialises to an equal value after being driven into a non-trivial
//! state (what machine snapshots rely on).

use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;
use std::sync::Arc;

use crate::bus::PortIo;
use crate::clock::FakeClock;
use crate::irq::IrqRecorder;
use crate::testutil::hammer;

#[track_caller]
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) {
    let json = serde_json::to_string(v).expect("serialise");
    let back: T = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(&back, v);
}

#[test]
fn all_device_states_round_trip() {
    let clock = FakeClock::new(123_456_789);
    let rec = IrqRecorder::new();
    let sys = crate::sysctl::SystemControl::new();

    let mut pic = crate::pic::PicPair::new();
    hammer(&mut pic, &[0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1], 500, 1);
    round_trip(&pic);

    let mut pit = crate::pit::Pit::new(clock.clone(), rec.line(0));
    hammer(&mut pit, &[0x40, 0x41, 0x42, 0x43, 0x61], 500, 2);
    round_trip(&pit.state);

    let mut cmos = crate::cmos::Cmos::new(&Default::default(), clock.clone(), rec.line(8));
    hammer(&mut cmos, &[0x70, 0x71], 500, 3);
    round_trip(&cmos.state);

    let mut kbc = crate::i8042::I8042::new(sys.clone(), rec.line(1), rec.line(12));
    kbc.key_event(crate::keycode::KeyCode::A, true);
    kbc.mouse_event(1, 2, 3);
    hammer(&mut kbc, &[0x60, 0x64], 500, 4);
    round_trip(&kbc.state);

    let mut uart = crate::uart::Uart::new(
        Box::new(crate::sink::NullSink),
        rec.line(4),
        Arc::clone(&clock) as _,
    );
    uart.receive(b'x');
    hammer(&mut uart, &(0x3F8..0x400).collect::<Vec<_>>(), 500, 5);
    round_trip(&uart.state);

    let mut dma = crate::dma::Dma::new();
    hammer(
        &mut dma,
        &(0..16).chain(0xC0..0xE0).collect::<Vec<_>>(),
        500,
        6,
    );
    round_trip(&dma.state);

    let mut fw = crate::fw_cfg::FwCfg::new(1 << 26, 1);
    fw.add_file("bootorder", b"/a\0".to_vec()).unwrap();
    fw.write(0x510, 2, 0x19);
    fw.read(0x511, 1);
    round_trip(&fw.state);

    let mut nb = crate::i440fx::I440fx::new(Box::new(|_, _, _, _| {}));
    crate::pci::PciFunction::config_write(&mut nb, 0x59, 1, 0x33);
    round_trip(&nb.state);
    round_trip(&crate::piix3::Piix3::new().state);
    round_trip(&crate::port92::Port92::new(sys).state);
    round_trip(&crate::debugport::PostPort::new(None).state);
}
