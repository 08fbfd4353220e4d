//! IDE: two legacy ATA channels (primary 0x1F0-0x1F7 + 0x3F6 on IRQ 14,
//! secondary 0x170-0x177 + 0x376 on IRQ 15), each an [`IdeChannel`] with a
//! master and a slave that are ATA hard disks or ATAPI CD-ROMs, and the
//! PIIX3 IDE PCI function ([`Piix3Ide`], 8086:7010, compatibility mode) that
//! tells PCI-aware guests the channels are there.
//!
//! The channel (task file, selection, data port, INTRQ, soft reset) is in
//! `channel.rs`, the disk command set in `ata.rs`, the CD-ROM in
//! `atapi.rs`, the IDENTIFY pages in `identify.rs`.
//!
//! Not modelled: bus-master DMA (BMIDE; the PCI function has no BAR 4, so
//! Linux's `ata_piix` falls back to PIO), native-mode channels, timing
//! (every command completes within the port write that starts it),
//! security, SMART, power states beyond accepting the commands.

mod ata;
mod atapi;
mod channel;
pub mod identify;
mod pci;

pub use atapi::Sense;
pub use channel::{register, DriveRegs, IdeChannel, State, TaskFile};
pub use pci::Piix3Ide;

pub const PRIMARY_BASE: u16 = 0x1F0;
pub const PRIMARY_CTL: u16 = 0x3F6;
pub const PRIMARY_IRQ: u8 = 14;
pub const SECONDARY_BASE: u16 = 0x170;
pub const SECONDARY_CTL: u16 = 0x376;
pub const SECONDARY_IRQ: u8 = 15;

// Status register.
pub const ST_BSY: u8 = 0x80;
pub const ST_DRDY: u8 = 0x40;
pub const ST_DF: u8 = 0x20;
pub const ST_DSC: u8 = 0x10;
pub const ST_DRQ: u8 = 0x08;
pub const ST_ERR: u8 = 0x01;

// Error register.
pub const ERR_ABRT: u8 = 0x04;
pub const ERR_IDNF: u8 = 0x10;
pub const ERR_UNC: u8 = 0x40;
/// Write protected (the media-status bit; shared with UNC).
pub const ERR_WP: u8 = 0x40;

// Device control register.
pub const CTL_NIEN: u8 = 0x02;
pub const CTL_SRST: u8 = 0x04;
pub const CTL_HOB: u8 = 0x80;

// ATAPI interrupt reason (sector count register).
pub const IR_COD: u8 = 0x01;
pub const IR_IO: u8 = 0x02;

pub const CMD_EXECUTE_DIAGNOSTIC: u8 = 0x90;

#[cfg(test)]
mod tests;
