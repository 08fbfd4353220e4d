//! Booting a Linux bzImage directly (`--kernel/--initrd/--append`), under
//! SeaBIOS, the way QEMU's `-kernel` does it: the BIOS POSTs normally and
//! boots a small option ROM (fw_cfg `genroms/linuxboot.bin`, first in
//! `bootorder`) whose boot entry tells the machine, through port
//! [`LOADER_PORT`], to copy the kernel into RAM, then jumps to the
//! real-mode setup code. Copying at boot time, not at power-on, keeps the
//! BIOS's own use of memory during POST from clobbering the kernel.
//!
//! Layout (boot protocol 2.02+): real-mode setup at 0x10000, command line
//! at 0x20000, protected-mode kernel at 0x100000, initrd at the highest
//! page-aligned address below min(initrd_addr_max, RAM - 160 KiB). Not
//! modelled: zImage (protocol < 2.00 or not loaded high), the 32/64-bit
//! boot entry points, EFI handover, setup_data, `vga=`/`mem=` parsing.

use devices::PortIo;
use mmu::DmaMemory;

/// The port the loader ROM writes to ask for the copy.
pub const LOADER_PORT: u16 = 0x51C;
/// Where the real-mode part goes.
pub const REAL_ADDR: u32 = 0x10000;
/// Where the command line goes.
pub const CMDLINE_ADDR: u32 = 0x20000;
/// Where the protected-mode kernel goes.
pub const KERNEL_ADDR: u32 = 0x10_0000;
/// RAM kept free at the top for the BIOS's tables (as QEMU does).
const TOP_RESERVE: u32 = 0x28000;

#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error("{0}: not a bzImage (no Linux boot header)")]
    NotBzImage(String),
    #[error("{0}: boot protocol {1:#06x} is too old (need 2.02 or later, a bzImage)")]
    OldProtocol(String, u16),
    #[error("kernel command line is {0} bytes; this kernel accepts at most {1}")]
    CmdlineTooLong(usize, u32),
    #[error("{0}: truncated bzImage ({1} bytes of protected-mode code, the header says {2})")]
    Truncated(String, usize, u64),
    #[error("kernel and initrd ({0} + {1} bytes) do not fit in {2} MiB of RAM")]
    TooBig(usize, usize, u32),
}

/// Where everything goes, computed up front so errors are reported before
/// the machine starts.
#[derive(Clone, Debug)]
pub struct LinuxImage {
    /// (guest physical address, bytes), written in order.
    pub writes: Vec<(u32, Vec<u8>)>,
    pub protocol: u16,
    pub initrd_addr: Option<u32>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

impl LinuxImage {
    /// Lays out `kernel` (a bzImage), `initrd` and `cmdline` for a machine
    /// with `ram` bytes. `name` is used in error messages.
    pub fn new(
        name: &str,
        kernel: &[u8],
        initrd: Option<&[u8]>,
        cmdline: &str,
        ram: u32,
    ) -> Result<LinuxImage, LinuxError> {
        if kernel.len() < 0x400
            || &kernel[0x202..0x206] != b"HdrS"
            || u16_at(kernel, 0x1FE) != 0xAA55
        {
            return Err(LinuxError::NotBzImage(name.to_string()));
        }
        let protocol = u16_at(kernel, 0x206);
        if protocol < 0x202 || kernel[0x211] & 1 == 0 {
            return Err(LinuxError::OldProtocol(name.to_string(), protocol));
        }
        let setup_sects = match kernel[0x1F1] {
            0 => 4,
            n => n as usize,
        };
        let setup_len = (setup_sects + 1) * 512;
        if kernel.len() <= setup_len {
            return Err(LinuxError::NotBzImage(name.to_string()));
        }
        let mut setup = kernel[..setup_len].to_vec();
        let pm = &kernel[setup_len..];
        // syssize: the protected-mode part in 16-byte units (a u32 since
        // protocol 2.04, a u16 before).
        let syssize = if protocol >= 0x204 {
            u32_at(kernel, 0x1F4)
        } else {
            u32::from(u16_at(kernel, 0x1F4))
        };
        if (pm.len() as u64) < u64::from(syssize) * 16 {
            return Err(LinuxError::Truncated(
                name.to_string(),
                pm.len(),
                u64::from(syssize) * 16,
            ));
        }
        let cmdline_max = if protocol >= 0x206 {
            u32_at(kernel, 0x238)
        } else {
            255
        };
        if cmdline.len() > cmdline_max as usize {
            return Err(LinuxError::CmdlineTooLong(cmdline.len(), cmdline_max));
        }
        let initrd_max = if protocol >= 0x203 {
            u32_at(kernel, 0x22C)
        } else {
            0x37FF_FFFF
        };
        let kernel_end = KERNEL_ADDR as u64 + pm.len() as u64;
        let too_big = || LinuxError::TooBig(pm.len(), initrd.map_or(0, |i| i.len()), ram >> 20);
        if kernel_end + 0x10_0000 > ram as u64 {
            return Err(too_big());
        }

        // Header fields a boot loader fills in.
        setup[0x210] = 0xB0; // type_of_loader: "other", as QEMU
        setup[0x211] |= 0x80; // CAN_USE_HEAP
        setup[0x224..0x226]
            .copy_from_slice(&((CMDLINE_ADDR - REAL_ADDR - 0x200) as u16).to_le_bytes());
        setup[0x228..0x22C].copy_from_slice(&CMDLINE_ADDR.to_le_bytes());
        let mut initrd_addr = None;
        let mut writes = Vec::new();
        if let Some(rd) = initrd {
            let top = initrd_max.min(ram.saturating_sub(TOP_RESERVE)) as u64;
            let addr = top.saturating_sub(rd.len() as u64) & !0xFFF;
            if rd.len() as u64 > top || addr < kernel_end {
                return Err(too_big());
            }
            setup[0x218..0x21C].copy_from_slice(&(addr as u32).to_le_bytes());
            setup[0x21C..0x220].copy_from_slice(&(rd.len() as u32).to_le_bytes());
            initrd_addr = Some(addr as u32);
            writes.push((addr as u32, rd.to_vec()));
        }
        let mut cl = cmdline.as_bytes().to_vec();
        cl.push(0);
        writes.push((REAL_ADDR, setup));
        writes.push((CMDLINE_ADDR, cl));
        writes.push((KERNEL_ADDR, pm.to_vec()));
        Ok(LinuxImage {
            writes,
            protocol,
            initrd_addr,
        })
    }
}

/// The port device the loader ROM triggers: copies the image into RAM.
pub struct LinuxLoader {
    image: LinuxImage,
    mem: DmaMemory,
    pub loads: u32,
}

impl LinuxLoader {
    pub fn new(image: LinuxImage, mem: DmaMemory) -> LinuxLoader {
        LinuxLoader {
            image,
            mem,
            loads: 0,
        }
    }
}

impl PortIo for LinuxLoader {
    fn read(&mut self, _port: u16, _size: u8) -> u32 {
        self.loads
    }

    fn write(&mut self, _port: u16, _size: u8, _val: u32) {
        log::info!(
            "linux: loading the kernel (boot protocol {:#06x})",
            self.image.protocol
        );
        for (addr, data) in &self.image.writes {
            self.mem.write(*addr, data);
        }
        self.loads += 1;
    }
}

/// The option ROM SeaBIOS boots: a PnP header with a bootstrap entry
/// vector that asks for the copy and enters the setup code at
/// (REAL_ADDR >> 4) + 0x20 : 0 with the stack below the command line.
pub fn loader_rom() -> Vec<u8> {
    let mut r = vec![0u8; 512];
    r[0] = 0x55;
    r[1] = 0xAA;
    r[2] = 1; // 512 bytes
    r[3] = 0xCB; // init: retf
    r[0x1A..0x1C].copy_from_slice(&0x20u16.to_le_bytes()); // PnP header
    let pnp = 0x20;
    r[pnp..pnp + 4].copy_from_slice(b"$PnP");
    r[pnp + 4] = 1; // revision
    r[pnp + 5] = 2; // length in 16-byte units
    r[pnp + 0x10..pnp + 0x12].copy_from_slice(&0x60u16.to_le_bytes()); // product name
    r[pnp + 0x1A..pnp + 0x1C].copy_from_slice(&0x40u16.to_le_bytes()); // BEV
    let seg = (REAL_ADDR >> 4) as u16;
    let sp = (CMDLINE_ADDR - REAL_ADDR - 0x10) as u16;
    let mut code = vec![0xFA]; // cli
    code.extend_from_slice(&[0xBA]); // mov dx, LOADER_PORT
    code.extend_from_slice(&LOADER_PORT.to_le_bytes());
    code.extend_from_slice(&[0xB0, 0x01, 0xEE]); // mov al,1; out dx,al
    code.push(0xB8); // mov ax, seg
    code.extend_from_slice(&seg.to_le_bytes());
    code.extend_from_slice(&[0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xE0, 0x8E, 0xE8, 0x8E, 0xD0]); // ds es fs gs ss
    code.push(0xBC); // mov sp, ...
    code.extend_from_slice(&sp.to_le_bytes());
    code.extend_from_slice(&[0xEA, 0x00, 0x00]); // jmp far seg+0x20:0
    code.extend_from_slice(&(seg + 0x20).to_le_bytes());
    r[0x40..0x40 + code.len()].copy_from_slice(&code);
    let name = b"oxpc Linux loader\0";
    r[0x60..0x60 + name.len()].copy_from_slice(name);
    // PnP header checksum, then the whole ROM's.
    let s: u8 = r[pnp..pnp + 32].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    r[pnp + 9] = 0u8.wrapping_sub(s);
    let s: u8 = r.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    r[511] = 0u8.wrapping_sub(s);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake bzImage: 4 setup sectors (setup_sects = 0), protocol 2.10.
    fn fake_kernel(pm_len: usize) -> Vec<u8> {
        let mut k = vec![0u8; 5 * 512 + pm_len];
        k[0x1FE..0x200].copy_from_slice(&0xAA55u16.to_le_bytes());
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x206..0x208].copy_from_slice(&0x020Au16.to_le_bytes());
        k[0x211] = 1; // LOADED_HIGH
        k[0x22C..0x230].copy_from_slice(&0x37FF_FFFFu32.to_le_bytes());
        k[0x238..0x23C].copy_from_slice(&2048u32.to_le_bytes());
        k[5 * 512] = 0x90;
        k
    }

    #[test]
    fn layout_and_header() {
        let k = fake_kernel(4096);
        let rd = vec![7u8; 10_000];
        let img = LinuxImage::new("k", &k, Some(&rd), "console=ttyS0", 64 << 20).unwrap();
        let setup = &img.writes.iter().find(|w| w.0 == REAL_ADDR).unwrap().1;
        assert_eq!(setup.len(), 5 * 512);
        assert_eq!(setup[0x210], 0xB0);
        assert_eq!(setup[0x211], 0x81);
        assert_eq!(u32_at(setup, 0x228), CMDLINE_ADDR);
        let ia = img.initrd_addr.unwrap();
        assert_eq!(ia & 0xFFF, 0);
        assert!(ia as usize + rd.len() <= (64 << 20) - TOP_RESERVE as usize);
        assert_eq!(u32_at(setup, 0x218), ia);
        assert_eq!(u32_at(setup, 0x21C), 10_000);
        let cl = &img.writes.iter().find(|w| w.0 == CMDLINE_ADDR).unwrap().1;
        assert_eq!(cl, b"console=ttyS0\0");
        let pm = &img.writes.iter().find(|w| w.0 == KERNEL_ADDR).unwrap().1;
        assert_eq!(pm[0], 0x90);
    }

    #[test]
    fn bad_kernels() {
        let e = LinuxImage::new("x", &[0u8; 100], None, "", 64 << 20).unwrap_err();
        assert!(e.to_string().contains("not a bzImage"));
        let mut k = fake_kernel(16);
        k[0x206] = 0x01;
        k[0x207] = 0x02;
        let e = LinuxImage::new("x", &k, None, "", 64 << 20).unwrap_err();
        assert!(e.to_string().contains("too old"), "{e}");
        let k = fake_kernel(16);
        let e = LinuxImage::new("x", &k, None, &"a".repeat(3000), 64 << 20).unwrap_err();
        assert!(e.to_string().contains("at most 2048"));
        let e = LinuxImage::new("x", &k, Some(&vec![0; 8 << 20]), "", 8 << 20).unwrap_err();
        assert!(e.to_string().contains("do not fit"));
        // syssize says 4 KiB of protected-mode code; only 16 bytes are there.
        let mut k = fake_kernel(16);
        k[0x1F4..0x1F8].copy_from_slice(&256u32.to_le_bytes());
        let e = LinuxImage::new("x", &k, None, "", 64 << 20).unwrap_err();
        assert!(e.to_string().contains("truncated bzImage"), "{e}");
        k.resize(5 * 512 + 4096, 0);
        assert!(LinuxImage::new("x", &k, None, "", 64 << 20).is_ok());
    }

    #[test]
    fn rom_checksums_and_entry() {
        let r = loader_rom();
        assert_eq!(r.iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0);
        assert_eq!(r[0x20..0x40].iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0);
        assert_eq!(u16_at(&r, 0x3A), 0x40, "BEV");
        assert_eq!(&r[0x40..0x44], &[0xFA, 0xBA, 0x1C, 0x05]);
    }

    #[test]
    fn loader_copies_into_ram() {
        let phys = mmu::PhysMem::new(4 << 20).unwrap();
        let img = LinuxImage::new("k", &fake_kernel(16), None, "x", 4 << 20).unwrap();
        let mut l = LinuxLoader::new(img, phys.dma());
        l.write(LOADER_PORT, 1, 1);
        let mut b = [0u8; 4];
        phys.dma().read(REAL_ADDR + 0x202, &mut b);
        assert_eq!(&b, b"HdrS");
        phys.dma().read(KERNEL_ADDR, &mut b[..1]);
        assert_eq!(b[0], 0x90);
        assert_eq!(l.read(LOADER_PORT, 1), 1);
    }
}
