//! The PC itself: one CPU, RAM, firmware, and the devices on their ports,
//! IRQ lines and memory ranges, QEMU `pc`-like (i440FX + PIIX3) so that
//! Debian's SeaBIOS does its full QEMU setup.
//!
//! Wiring: PIC pair (irq.rs) <- PIT IRQ0, 8042 IRQ1/IRQ12, COM2 IRQ3,
//! COM1 IRQ4, CMOS IRQ8, FERR# IRQ13; port 0x80 POST, 0xE9 debug console,
//! 0x402 SeaBIOS log; PCI 00:00.0 i440FX, 00:01.0 PIIX3, 00:02.0 stdvga;
//! fw_cfg with `etc/e820`, the VGA BIOS as `pci1234,1111.rom` (or
//! `vgaroms/`), and `etc/sercon-port` in headless mode; floppy controller
//! (IRQ6, DMA 2) and two IDE channels (IRQ14/15, PIIX3 IDE at 00:01.1,
//! the CD-ROM as secondary master). A20 (8042 output port, port 0x92) and
//! the PAM registers reach the memory map right after the OUT that
//! changed them (see `bus.rs`); the shadow area starts as ROM, as QEMU's.
//!
//! Not modelled: an I/O APIC, SMP, ACPI power management (PIIX4 PM), the
//! VGA expansion-ROM BAR.

use std::sync::{Arc, Mutex};

use cpu_interp::{CpuState, Engine, Interpreter};
use devices::bus::{lock, BusError, SharedDevice};
use devices::cmos::{Cmos, CmosConfig, DiskGeometry, FloppyType};
use devices::debugport::{DebugCon, PostPort};
use devices::disk::{BlockDevice, FloppyGeometry};
use devices::dma::Dma;
use devices::floppy::Floppy;
use devices::fw_cfg::{FwCfg, E820_RAM};
use devices::i440fx::I440fx;
use devices::i8042::I8042;
use devices::ide::{IdeChannel, Piix3Ide};
use devices::pci::{PciBus, PciFunction};
use devices::piix3::Piix3;
use devices::pit::Pit;
use devices::port92::Port92;
use devices::sink::{ByteSink, NullSink};
use devices::sysctl::SystemControl;
use devices::uart::Uart;
use devices::vga::{Vga, VgaMmio, LEGACY_WINDOW, PORT_RANGES};
use devices::{IrqLine, PortBus, PortIo, SharedClock};
use mmu::{Mmu, PhysMem};

use crate::bus::{MemorySync, PcBus};
use crate::clock::MachineClock;
use crate::config::{MachineConfig, VgaKind};
use crate::irq::{Interrupts, PicPorts};
use crate::linux::{loader_rom, LinuxImage, LinuxLoader, LOADER_PORT};
use crate::pci_vga::{VgaPci, PCI_MEM_BASE, PCI_MEM_END};
use crate::roms;
use crate::sinks::SharedSink;
use crate::tsc::HostTsc;

/// Where the machine's byte streams go.
pub struct Outputs {
    pub com1: Box<dyn ByteSink>,
    pub com2: Box<dyn ByteSink>,
    /// Port 0xE9.
    pub debugcon: Box<dyn ByteSink>,
    /// Port 0x402 (SeaBIOS's debug log).
    pub bioslog: Box<dyn ByteSink>,
    /// Port 0x80, one hex line per code.
    pub post: Option<Box<dyn ByteSink>>,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            com1: Box::new(NullSink),
            com2: Box::new(NullSink),
            debugcon: Box::new(NullSink),
            bioslog: Box::new(NullSink),
            post: None,
        }
    }
}

/// Disk images to attach: the floppy for drive A:, the primary master
/// disk, and the CD-ROM (secondary master, as QEMU's `-cdrom`).
#[derive(Default)]
pub struct Disks {
    pub fda: Option<(Box<dyn BlockDevice>, FloppyGeometry)>,
    pub hda: Option<Box<dyn BlockDevice>>,
    pub cdrom: Option<Box<dyn BlockDevice>>,
}

/// Host-side failures building a machine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("memory map: {0}")]
    Memory(#[from] mmu::MemError),
    #[error("port map: {0}")]
    Ports(#[from] BusError),
    #[error("PCI: {0}")]
    Pci(#[from] devices::pci::PciError),
    #[error("fw_cfg: {0}")]
    FwCfg(#[from] devices::fw_cfg::FwCfgError),
    #[error(transparent)]
    Linux(#[from] crate::linux::LinuxError),
}

/// A PCI function shared with the machine (which needs to reach it too).
struct SharedFn<T>(Arc<Mutex<T>>);

impl<T: PciFunction> PciFunction for SharedFn<T> {
    fn config_read(&mut self, offset: u8) -> u32 {
        lock(&self.0).config_read(offset)
    }
    fn config_write(&mut self, offset: u8, size: u8, val: u32) {
        lock(&self.0).config_write(offset, size, val)
    }
}

/// Handles to the devices the run loop and front ends drive.
pub struct Devices {
    pub pit: Arc<Mutex<Pit>>,
    pub cmos: Arc<Mutex<Cmos>>,
    pub com1: Arc<Mutex<Uart>>,
    pub com2: Arc<Mutex<Uart>>,
    pub kbc: Arc<Mutex<I8042>>,
    pub vga: Arc<Mutex<Vga>>,
    pub post: Arc<Mutex<PostPort>>,
    pub fw_cfg: Arc<Mutex<FwCfg>>,
    pub fdc: Arc<Mutex<Floppy>>,
    pub port92: Arc<Mutex<Port92>>,
    pub ide: [Arc<Mutex<IdeChannel>>; 2],
    i440fx: Arc<Mutex<I440fx>>,
}

/// The whole PC.
pub struct Machine {
    pub cpu: CpuState,
    pub mmu: Mmu,
    pub bus: PcBus,
    pub engine: Box<dyn Engine>,
    pub clock: Arc<MachineClock>,
    pub dev: Devices,
    pub sys: Arc<SystemControl>,
    config: MachineConfig,
    /// Resets done since power-on (triple faults and reset requests).
    pub resets: u64,
    /// Log CS:EIP to stderr each time this many more instructions retired.
    pub trace_every: Option<u64>,
}

fn shared<T: PortIo + 'static>(dev: T) -> Arc<Mutex<T>> {
    Arc::new(Mutex::new(dev))
}

impl Machine {
    /// Builds and powers on a machine with the interpreter engine.
    pub fn new(config: MachineConfig, out: Outputs) -> Result<Machine, BuildError> {
        Self::with_engine(config, out, Disks::default(), Box::new(Interpreter::new()))
    }

    /// Builds a machine with disks attached, with the interpreter engine.
    pub fn with_disks(
        config: MachineConfig,
        out: Outputs,
        disks: Disks,
    ) -> Result<Machine, BuildError> {
        Self::with_engine(config, out, disks, Box::new(Interpreter::new()))
    }

    pub fn with_engine(
        config: MachineConfig,
        out: Outputs,
        disks: Disks,
        engine: Box<dyn Engine>,
    ) -> Result<Machine, BuildError> {
        config.validate()?;
        let clock = MachineClock::new(config.clock);
        let sclock: SharedClock = clock.clone();

        // Memory: RAM, BIOS, the VGA window and the PCI memory window.
        let mut phys = PhysMem::new(config.ram_bytes())?;
        roms::map_bios(&mut phys, &config.bios)?;
        let vga = Arc::new(Mutex::new(Vga::new()));
        let win = (
            LEGACY_WINDOW.0 as u32,
            (LEGACY_WINDOW.1 - LEGACY_WINDOW.0) as u32,
        );
        phys.add_mmio(win.0, win.1, Box::new(VgaMmio(vga.clone())))?;
        phys.add_mmio(
            PCI_MEM_BASE,
            PCI_MEM_END - PCI_MEM_BASE,
            Box::new(VgaMmio(vga.clone())),
        )?;
        let mut mmu = Mmu::new(phys);
        roms::reset_shadow(&mut mmu);

        // System control: A20 on at power-on, as the 8042's output port says.
        let sys = SystemControl::new();
        sys.set_a20(true);
        mmu.set_a20(true);

        let irq = Interrupts::new();
        let line = |n: u8| IrqLine::new(irq.clone(), n);
        let mut ports = PortBus::new();
        macro_rules! reg {
            ($first:expr, $last:expr, $name:expr, $dev:expr $(,)?) => {
                ports.register($first, $last, $name, $dev)
            };
        }

        let pic: SharedDevice = shared(PicPorts(irq.clone()));
        reg!(0x20, 0x21, "pic-master", pic.clone())?;
        reg!(0xA0, 0xA1, "pic-slave", pic.clone())?;
        reg!(0x4D0, 0x4D1, "elcr", pic)?;

        let pit = shared(Pit::new(sclock.clone(), line(0)));
        reg!(0x40, 0x43, "pit", pit.clone())?;
        reg!(0x61, 0x61, "port61", pit.clone())?;

        let kbc = shared(I8042::new(sys.clone(), line(1), line(12)));
        reg!(0x60, 0x60, "i8042-data", kbc.clone())?;
        reg!(0x64, 0x64, "i8042-cmd", kbc.clone())?;
        let port92 = shared(Port92::new(sys.clone()));
        reg!(0x92, 0x92, "port92", port92.clone())?;

        let dma = shared(Dma::new());
        reg!(0x00, 0x0F, "dma1", dma.clone())?;
        reg!(0x81, 0x8F, "dma-page", dma.clone())?;
        reg!(0xC0, 0xDF, "dma2", dma.clone())?;

        // Disks: floppy controller (IRQ6, DMA 2), two IDE channels.
        let mut floppies = [FloppyType::None; 2];
        let mut fdc = Floppy::new(line(6), dma, Box::new(mmu.phys.dma()));
        if let Some((dev, geom)) = disks.fda {
            floppies[0] = geom.drive;
            fdc.insert(0, dev, geom);
        }
        let fdc = Arc::new(Mutex::new(fdc));
        devices::floppy::register(&mut ports, &fdc)?;
        let mut ide0 = IdeChannel::primary(line(14));
        let mut ide1 = IdeChannel::secondary(line(15));
        let mut hard_disks = [None, None];
        if let Some(d) = disks.hda {
            ide0.attach_disk(0, d);
            hard_disks[0] = ide0.disk_geometry(0).map(|g| DiskGeometry {
                cylinders: g.cylinders,
                heads: g.heads,
                sectors: g.sectors,
            });
        }
        if let Some(cd) = disks.cdrom {
            ide1.attach_cdrom(0, Some(cd));
        }
        let ide = [Arc::new(Mutex::new(ide0)), Arc::new(Mutex::new(ide1))];
        devices::ide::register(&mut ports, "ide0", &ide[0])?;
        devices::ide::register(&mut ports, "ide1", &ide[1])?;

        let cmos_cfg = CmosConfig {
            ram_bytes: config.ram_bytes() as u64,
            boot_order: config.boot_order.clone(),
            wall_clock_base: config.wall_clock_base,
            floppies,
            hard_disks,
            ..CmosConfig::default()
        };
        let cmos = shared(Cmos::new(&cmos_cfg, sclock.clone(), line(8)));
        reg!(0x70, 0x71, "cmos", cmos.clone())?;

        let com1 = shared(Uart::new(
            Box::new(SharedSink::new(out.com1)),
            line(4),
            sclock.clone(),
        ));
        let com2 = shared(Uart::new(
            Box::new(SharedSink::new(out.com2)),
            line(3),
            sclock.clone(),
        ));
        reg!(0x3F8, 0x3FF, "com1", com1.clone())?;
        reg!(0x2F8, 0x2FF, "com2", com2.clone())?;

        let post = shared(PostPort::new(out.post));
        reg!(0x80, 0x80, "post", post.clone())?;
        reg!(0xE9, 0xE9, "debugcon", shared(DebugCon::new(out.debugcon)))?;
        reg!(0x402, 0x402, "bioslog", shared(DebugCon::new(out.bioslog)))?;

        for (i, (a, b)) in PORT_RANGES.iter().enumerate() {
            reg!(*a, *b, if i == 0 { "vga" } else { "vbe" }, vga.clone())?;
        }

        // PCI: host bridge with PAM, ISA bridge, VGA.
        let memory = MemorySync::new(sys.clone());
        let i440fx = Arc::new(Mutex::new(I440fx::new(Box::new(memory.pam_hook()))));
        let mut pci = PciBus::new(Some(sys.clone()));
        pci.add(0, 0, Box::new(SharedFn(i440fx.clone())))?;
        pci.add(1, 0, Box::new(Piix3::new()))?;
        pci.add(1, 1, Box::new(Piix3Ide::new()))?;
        if config.vga == VgaKind::Pci {
            pci.add(2, 0, Box::new(VgaPci::new(vga.clone())))?;
        }
        reg!(0xCF8, 0xCFF, "pci", shared(pci))?;

        // fw_cfg.
        let mut fw = FwCfg::new(config.ram_bytes() as u64, 1);
        fw.set_e820(&[(0, config.ram_bytes() as u64, E820_RAM)])?;
        if config.sercon {
            fw.set_sercon_port(devices::uart::COM1)?;
        }
        if let Some(rom) = &config.vgabios {
            match (config.vga, roms::pci_rom_ids(rom)) {
                (VgaKind::Pci, Some((v, d))) => {
                    fw.add_file(&format!("pci{v:04x},{d:04x}.rom"), rom.clone())?
                }
                _ => fw.add_vga_rom("vgabios.bin", rom.clone())?,
            }
        }
        if let Some(l) = &config.linux {
            let img = LinuxImage::new(
                &l.name,
                &l.kernel,
                l.initrd.as_deref(),
                &l.cmdline,
                config.ram_bytes() as u32,
            )?;
            reg!(
                LOADER_PORT,
                LOADER_PORT,
                "linux-loader",
                shared(LinuxLoader::new(img, mmu.phys.dma())),
            )?;
            fw.add_file("genroms/linuxboot.bin", loader_rom())?;
            fw.set_bootorder(&["/rom@genroms/linuxboot.bin"])?;
        }
        let fw_cfg = shared(fw);
        reg!(0x510, 0x511, "fw_cfg", fw_cfg.clone())?;

        let bus = PcBus::new(ports, irq, memory, HostTsc::new(clock.clone()));
        Ok(Machine {
            cpu: CpuState::new(),
            mmu,
            bus,
            engine,
            clock,
            dev: Devices {
                pit,
                cmos,
                com1,
                com2,
                kbc,
                vga,
                post,
                fw_cfg,
                fdc,
                port92,
                ide,
                i440fx,
            },
            sys,
            config,
            resets: 0,
            trace_every: None,
        })
    }

    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// Applies what port writes did to the memory map and the CPU has not
    /// applied yet (it does after each OUT/OUTS, see `bus.rs`): the A20
    /// gate and PAM windows. Also called at every slice boundary, for
    /// port writes made from outside the CPU (tests, the front ends).
    pub fn apply_memory_changes(&mut self) {
        self.bus.memory.apply(&mut self.mmu);
    }

    /// A full system reset (triple fault, 8042 pulse, port 0x92, 0xCF9):
    /// CPU to its reset state, PAM registers to 0 (the ROM visible again
    /// at 0xC0000-0xFFFFF), A20 on. RAM and device state stay (the BIOS
    /// reinitialises the devices; CMOS keeps its shutdown byte).
    pub fn reset(&mut self) {
        log::info!("system reset");
        self.resets += 1;
        let icount = self.cpu.icount;
        self.cpu = CpuState::new();
        // Keep time monotonic: the clock and TSC derive from icount.
        self.cpu.icount = icount;
        for b in &mut lock(&self.dev.i440fx).state.config.data[0x59..=0x5F] {
            *b = 0;
        }
        self.bus.memory.discard_pam();
        // Port 0x92's reset bit reads 0 again after a reset.
        lock(&self.dev.port92).state = Default::default();
        // The disk controllers see the reset line too (media stay in;
        // pending writes were already written through to the images).
        lock(&self.dev.fdc).reset();
        for ch in &self.dev.ide {
            lock(ch).reset();
        }
        roms::reset_shadow(&mut self.mmu);
        self.sys.set_a20(true);
        self.mmu.set_a20(true);
        self.mmu.flush_all();
    }

    /// Makes every guest write to the disk images durable.
    pub fn flush_disks(&self) {
        if let Err(e) = lock(&self.dev.fdc).flush() {
            log::error!("floppy: {e}");
        }
        for ch in &self.dev.ide {
            if let Err(e) = lock(ch).flush() {
                log::error!("ide: {e}");
            }
        }
    }

    /// The VGA text screen, if the display is in a text mode.
    pub fn text_screen(&self) -> Option<String> {
        lock(&self.dev.vga).text_screen()
    }

    /// Renders the display: (width, height, 0x00RRGGBB pixels).
    pub fn render(&self) -> (u32, u32, Vec<u32>) {
        let mut frame = Vec::new();
        let (w, h) = lock(&self.dev.vga).render(&mut frame);
        (w, h, frame)
    }
}

impl Drop for Machine {
    /// No guest write is lost when the machine goes away.
    fn drop(&mut self) {
        self.flush_disks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpu_interp::Bus;
    use devices::sink::CaptureSink;

    /// A 64 KiB "BIOS": at F000:FFF0 a jump to F000:0000, where the code
    /// under test sits.
    pub(crate) fn tiny_bios(code: &[u8]) -> Vec<u8> {
        let mut b = vec![0xF4u8; 64 << 10]; // HLT everywhere
        b[..code.len()].copy_from_slice(code);
        b[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]); // jmp f000:0000
        b
    }

    #[test]
    fn builds_and_reaches_devices() {
        let cap = CaptureSink::new();
        let out = Outputs {
            bioslog: Box::new(cap.clone()),
            ..Outputs::default()
        };
        let cfg = MachineConfig::new(tiny_bios(&[0xF4]), None);
        let mut m = Machine::new(cfg, out).unwrap();
        // The BIOS is visible at the reset vector and below 1 MiB.
        assert_eq!(m.mmu.phys.read_u8(0xFFFF_FFF0), 0xEA);
        assert_eq!(m.mmu.phys.read_u8(0xFFFF0), 0xEA);
        // fw_cfg signature, debug port, PCI host bridge ID.
        m.bus.io_write(0x510, 2, 0);
        let sig: Vec<u8> = (0..4).map(|_| m.bus.io_read(0x511, 1) as u8).collect();
        assert_eq!(&sig, b"QEMU");
        m.bus.io_write(0x402, 1, b'S' as u32);
        assert_eq!(cap.contents(), b"S");
        assert_eq!(m.bus.io_read(0x402, 1), 0xE9);
        m.bus.io_write(0xCF8, 4, 0x8000_0000);
        assert_eq!(m.bus.io_read(0xCFC, 4), 0x1237_8086);
        m.bus.io_write(0xCF8, 4, 0x8000_1000);
        assert_eq!(m.bus.io_read(0xCFC, 4), 0x1111_1234);
        // CMOS extended memory (KiB above 1 MiB).
        m.bus.io_write(0x70, 1, 0x30);
        let lo = m.bus.io_read(0x71, 1);
        m.bus.io_write(0x70, 1, 0x31);
        let hi = m.bus.io_read(0x71, 1);
        assert_eq!(lo | hi << 8, 63 * 1024);
    }

    #[test]
    fn a20_and_pam_reach_the_memory_map() {
        let cfg = MachineConfig::new(tiny_bios(&[0xF4]), None);
        let mut m = Machine::new(cfg, Outputs::default()).unwrap();
        m.mmu.phys.write_u8(0x10_0000, 0x5A);
        m.bus.io_write(0x92, 1, 0); // A20 off through port 0x92
        m.apply_memory_changes();
        assert_eq!(
            m.mmu.phys.read_u8(0x10_0000),
            m.mmu.phys.read_u8(0),
            "wraps at 1 MiB"
        );
        m.bus.io_write(0x92, 1, 2);
        m.apply_memory_changes();
        assert_eq!(m.mmu.phys.read_u8(0x10_0000), 0x5A);
        // PAM: make 0xF0000 read from ROM, write RAM; a write then is invisible.
        m.mmu.phys.write_u8(0xF0000, 0x77);
        m.bus.io_write(0xCF8, 4, 0x8000_0058);
        m.bus.io_write(0xCFD, 1, 0x20); // PAM0 (0x59) = write RAM only
        m.apply_memory_changes();
        assert_eq!(m.mmu.phys.read_u8(0xF0000), 0xF4, "ROM byte");
        // Reset: A20 on, PAM back to 0 (ROM reads, writes dropped).
        m.bus.io_write(0xCFD, 1, 0x30); // read and write RAM
        m.apply_memory_changes();
        m.mmu.phys.write_u8(0xF0001, 0x66);
        assert_eq!(m.mmu.phys.read_u8(0xF0001), 0x66, "shadow RAM");
        m.bus.io_write(0x92, 1, 0);
        m.apply_memory_changes();
        m.reset();
        assert!(m.mmu.phys.a20_enabled());
        assert_eq!(m.mmu.phys.read_u8(0xF0001), 0xF4, "ROM again");
        m.mmu.phys.write_u8(0xF0001, 0x66);
        assert_eq!(m.mmu.phys.read_u8(0xF0001), 0xF4, "ROM is read-only");
    }
}
