//! `oxpc`: the command-line front end. `oxpc run` builds a PC from the
//! options, then runs it headless (COM1 on the terminal) or in a window.
//! `anyhow` is used here only, at the binary's edge.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use devices::cmos::BootDevice;
use devices::disk::{open_cdrom, open_floppy, open_hard_disk, DiskMode};
use devices::sink::{ByteSink, FileSink, NullSink, StdoutSink};
use machine::board::Disks;
use machine::config::{self, ClockMode, LinuxBoot, MachineConfig, VgaKind, DEFAULT_NS_PER_INSN};
use machine::sinks::{Watch, WatchSink};
use machine::{terminal, window, Exit, Input, Machine, Outputs, RunLimits};

#[derive(Parser)]
#[command(name = "oxpc", version, about = "A pure-software x86 PC emulator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Boot a PC.
    Run(RunArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum EngineArg {
    Interp,
    Dbt,
    Lockstep,
}

#[derive(Args)]
struct RunArgs {
    /// System BIOS image (raw 64/128/256 KiB); default: bios-256k.bin from roms/fetch.sh.
    #[arg(long)]
    bios: Option<PathBuf>,
    /// VGA BIOS option ROM; default: SeaVGABIOS for the chosen VGA.
    #[arg(long)]
    vgabios: Option<PathBuf>,
    /// Plain ISA VGA instead of the PCI stdvga.
    #[arg(long)]
    isa_vga: bool,
    /// Guest RAM: MiB, or with a suffix (64M, 1G).
    #[arg(long, default_value = "64")]
    mem: String,
    /// Floppy image for drive A:.
    #[arg(long)]
    fda: Option<PathBuf>,
    /// Hard-disk image for the primary master.
    #[arg(long)]
    hda: Option<PathBuf>,
    /// CD-ROM image.
    #[arg(long)]
    cdrom: Option<PathBuf>,
    /// First boot device: a (floppy), c (disk), d (CD-ROM).
    #[arg(long)]
    boot: Option<char>,
    /// Linux bzImage to boot directly.
    #[arg(long)]
    kernel: Option<PathBuf>,
    #[arg(long)]
    initrd: Option<PathBuf>,
    #[arg(long)]
    append: Option<String>,
    /// No window: COM1 on the terminal (the default without a display).
    #[arg(long, conflicts_with = "window")]
    headless: bool,
    /// Show the screen in a window.
    #[arg(long)]
    window: bool,
    /// CPU engine: the translator (dbt), the reference interpreter, or
    /// both in lockstep, compared at every block.
    #[arg(long, value_enum, default_value = "dbt")]
    engine: EngineArg,
    /// Print translation statistics at exit, with the time spent in
    /// translated code, callouts and the dispatcher.
    #[arg(long)]
    dbt_stats: bool,
    /// Write every translated block's guest and host disassembly to PATH.
    #[arg(long, value_name = "PATH")]
    dbt_dump: Option<PathBuf>,
    /// Stop after N retired instructions (exit status 0 unless
    /// --until-serial was given and not seen; with --engine lockstep, 4 on
    /// a difference between the engines).
    #[arg(long, value_name = "N")]
    max_instructions: Option<u64>,
    /// With --engine lockstep: run the translator alone for the first N
    /// instructions, then both engines in lockstep (reaching a late point
    /// of a boot quickly).
    #[arg(long, value_name = "N")]
    lockstep_after: Option<u64>,
    /// With --engine lockstep: corrupt the interpreter's state after the
    /// first translated block at or past N instructions (tests the
    /// mismatch report).
    #[arg(long, value_name = "N", hide = true)]
    lockstep_inject: Option<u64>,
    /// Disk writes go to a temporary overlay.
    #[arg(long)]
    snapshot: bool,
    /// COM1: stdio, null, or file:PATH.
    #[arg(long, default_value = "stdio")]
    serial: String,
    /// Port 0xE9 debug console: stdio, null, file:PATH or PATH.
    #[arg(long)]
    debugcon: Option<String>,
    /// SeaBIOS's port-0x402 log: stdio, null, file:PATH or PATH.
    #[arg(long)]
    bioslog: Option<String>,
    /// POST codes (port 0x80), one per line.
    #[arg(long)]
    post_log: Option<PathBuf>,
    /// Give up after N seconds of wall time (exit status 2).
    #[arg(long, alias = "timeout")]
    max_seconds: Option<f64>,
    /// Exit 0 as soon as STRING appears on COM1, the debug console or the text screen.
    #[arg(long, alias = "exit-on")]
    until_serial: Option<String>,
    /// Write the final display as PNG.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Write the final text screen as UTF-8.
    #[arg(long)]
    dump_screen: Option<PathBuf>,
    /// Deterministic time from retired instructions instead of host time.
    #[arg(long)]
    virtual_time: bool,
    /// Virtual nanoseconds per instruction (with --virtual-time).
    #[arg(long, default_value_t = DEFAULT_NS_PER_INSN)]
    ns_per_insn: u64,
    /// Log CS:EIP to stderr every N instructions (finding where a guest stops).
    #[arg(long)]
    trace_every: Option<u64>,
}

/// Opens an output named on the command line.
fn open_sink(spec: &str) -> Result<Box<dyn ByteSink>> {
    Ok(match spec {
        "stdio" | "stdout" => Box::new(StdoutSink),
        "null" | "none" => Box::new(NullSink),
        _ => {
            let path = spec.strip_prefix("file:").unwrap_or(spec);
            Box::new(
                FileSink::create(Path::new(path))
                    .with_context(|| format!("cannot create {path}"))?,
            )
        }
    })
}

fn watched(sink: Box<dyn ByteSink>, watch: &Option<Arc<Watch>>) -> Box<dyn ByteSink> {
    match watch {
        Some(w) => Box::new(WatchSink::new(sink, w.clone())),
        None => sink,
    }
}

/// Opens the disk images named on the command line.
fn open_disks(a: &RunArgs) -> Result<Disks> {
    let mode = if a.snapshot {
        DiskMode::Snapshot
    } else {
        DiskMode::ReadWrite
    };
    Ok(Disks {
        fda: a.fda.as_deref().map(|p| open_floppy(p, mode)).transpose()?,
        hda: a
            .hda
            .as_deref()
            .map(|p| open_hard_disk(p, mode))
            .transpose()?,
        cdrom: a
            .cdrom
            .as_deref()
            .map(|p| open_cdrom(p, mode))
            .transpose()?,
    })
}

fn build_config(a: &RunArgs, headless: bool) -> Result<MachineConfig> {
    if a.kernel.is_none() && (a.initrd.is_some() || a.append.is_some()) {
        bail!("--initrd and --append need --kernel");
    }
    let ram_mib = config::parse_mem_mib(&a.mem)?;
    let bios_path = match &a.bios {
        Some(p) => p.clone(),
        None => config::default_firmware("bios-256k.bin")?,
    };
    let bios = config::load_bios(&bios_path)?;
    let vga = if a.isa_vga {
        VgaKind::Isa
    } else {
        VgaKind::Pci
    };
    let vgabios_path = match &a.vgabios {
        Some(p) => p.clone(),
        None => config::default_firmware(if a.isa_vga {
            "vgabios-isavga.bin"
        } else {
            "vgabios-stdvga.bin"
        })?,
    };
    let vgabios = config::load_vgabios(&vgabios_path)?;
    let mut cfg = MachineConfig::new(bios, Some(vgabios));
    cfg.ram_mib = ram_mib;
    cfg.vga = vga;
    cfg.sercon = headless;
    cfg.clock = if a.virtual_time {
        if a.ns_per_insn == 0 {
            bail!("--ns-per-insn must be at least 1");
        }
        ClockMode::Virtual {
            ns_per_insn: a.ns_per_insn,
        }
    } else {
        ClockMode::Host
    };
    cfg.wall_clock_base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if let Some(k) = &a.kernel {
        let read = |p: &Path| {
            if p.is_dir() {
                bail!("{}: is a directory, not a file", p.display());
            }
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
        };
        cfg.linux = Some(LinuxBoot {
            name: k.display().to_string(),
            kernel: read(k)?,
            initrd: a.initrd.as_deref().map(read).transpose()?,
            cmdline: a.append.clone().unwrap_or_default(),
        });
        if let Some(l) = &cfg.linux {
            // Report a bad kernel before the machine starts.
            machine::linux::LinuxImage::new(
                &l.name,
                &l.kernel,
                l.initrd.as_deref(),
                &l.cmdline,
                cfg.ram_bytes() as u32,
            )?;
        }
    }
    if let Some(b) = a.boot {
        let first = match b {
            'a' => BootDevice::Floppy,
            'c' => BootDevice::HardDisk,
            'd' => BootDevice::CdRom,
            _ => bail!("--boot {b}: expected a, c or d"),
        };
        cfg.boot_order.retain(|d| *d != first);
        cfg.boot_order.insert(0, first);
    }
    Ok(cfg)
}

fn finish(m: &Machine, a: &RunArgs) -> Result<()> {
    if let Some(p) = &a.screenshot {
        let (w, h, px) = m.render();
        machine::screen::write_png(p, w, h, &px)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &a.dump_screen {
        let text = m.text_screen().unwrap_or_default();
        std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

/// Builds and runs the machine on this thread; returns the exit status.
fn emulate(
    a: &RunArgs,
    cfg: MachineConfig,
    disks: Disks,
    rx: crossbeam_channel::Receiver<Input>,
    on_built: impl FnOnce(&Machine),
) -> Result<i32> {
    let watch = a.until_serial.as_deref().map(Watch::new);
    let out = Outputs {
        com1: watched(open_sink(&a.serial)?, &watch),
        com2: Box::new(NullSink),
        debugcon: watched(
            match &a.debugcon {
                Some(s) => open_sink(s)?,
                None => Box::new(NullSink),
            },
            &watch,
        ),
        bioslog: match &a.bioslog {
            Some(s) => open_sink(s)?,
            None => Box::new(NullSink),
        },
        post: match &a.post_log {
            Some(p) => Some(open_sink(&p.to_string_lossy())?),
            None => None,
        },
    };
    let mut translator = dbt::Dbt::new();
    // With --dbt-stats also measure where the time goes (a TSC read per
    // dispatcher entry and callout).
    translator.timing |= a.dbt_stats;
    if let Some(p) = &a.dbt_dump {
        let f =
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
        translator.dump = Some(Box::new(std::io::BufWriter::new(f)));
    }
    let lockstep = || {
        let mut l = dbt::Lockstep::for_machine(dbt::Dbt::new());
        l.inject_at = a.lockstep_inject;
        Box::new(l)
    };
    let delayed = a.engine == EngineArg::Lockstep && a.lockstep_after.is_some();
    let engine: Box<dyn cpu_interp::Engine> = match a.engine {
        EngineArg::Interp => Box::new(cpu_interp::Interpreter::new()),
        EngineArg::Lockstep if !delayed => {
            let mut l = lockstep();
            l.dbt = translator;
            l
        }
        EngineArg::Dbt | EngineArg::Lockstep => Box::new(translator),
    };
    let mut m = Machine::with_engine(cfg, out, disks, engine)?;
    m.trace_every = a.trace_every;
    on_built(&m);
    let limits = RunLimits {
        wall: a.max_seconds.map(Duration::from_secs_f64),
        insns: a.max_instructions,
        watch: watch.clone(),
        ..RunLimits::default()
    };
    let t0 = Instant::now();
    let exit = if delayed {
        // The translator alone up to --lockstep-after, then both.
        let after = a.lockstep_after.unwrap_or(0);
        let first = RunLimits {
            insns: Some(a.max_instructions.map_or(after, |n| n.min(after))),
            ..limits.clone()
        };
        match m.run(&first, Some(&rx)) {
            Exit::Timeout if m.cpu.icount >= after => {
                m.engine = lockstep();
                let rest = RunLimits {
                    wall: limits.wall.map(|w| w.saturating_sub(t0.elapsed())),
                    ..limits.clone()
                };
                m.run(&rest, Some(&rx))
            }
            other => other,
        }
    } else {
        m.run(&limits, Some(&rx))
    };
    let bound_reached = a.max_instructions.is_some_and(|n| m.cpu.icount >= n);
    let secs = t0.elapsed().as_secs_f64();
    log::info!(
        "stopped: {exit:?} after {secs:.2} s, {} instructions ({:.1} MIPS)",
        m.cpu.icount,
        m.cpu.icount as f64 / secs.max(1e-9) / 1e6
    );
    finish(&m, a)?;
    if a.dbt_stats {
        if let Some(r) = m.engine.report() {
            eprintln!("{r}");
        }
    }
    if let Some(diff) = m.engine.mismatch() {
        eprintln!(
            "oxpc: lockstep found a difference between the translator and the interpreter:\n{diff}"
        );
        return Ok(4);
    }
    Ok(match exit {
        Exit::Matched | Exit::Quit => 0,
        // Reported above.
        Exit::Mismatch => 4,
        Exit::Timeout if bound_reached && a.until_serial.is_none() => 0,
        Exit::Timeout => {
            match &a.until_serial {
                Some(s) => eprintln!(
                    "oxpc: timeout after {:?} s: {s:?} not seen",
                    a.max_seconds.unwrap_or(0.0)
                ),
                None => eprintln!("oxpc: timeout after {:?} s", a.max_seconds.unwrap_or(0.0)),
            }
            2
        }
        Exit::Dead => {
            eprintln!(
                "oxpc: the guest halted for good at {:04x}:{:08x} (interrupts off, nothing scheduled)",
                m.cpu.seg[1].selector, m.cpu.eip
            );
            if a.until_serial.is_some() {
                3
            } else {
                0
            }
        }
    })
}

fn run(a: RunArgs) -> Result<i32> {
    let headless = a.headless || (!a.window && !window::display_available());
    if a.window && !window::display_available() {
        bail!("--window: no display ($DISPLAY and $WAYLAND_DISPLAY are unset); use --headless");
    }
    // Check the configuration before touching the terminal or opening a window.
    let cfg = build_config(&a, headless)?;
    let disks = open_disks(&a)?;
    let (tx, rx) = crossbeam_channel::unbounded();
    terminal::catch_ctrl_c(tx.clone());
    if headless {
        let raw = terminal::RawTerminal::enable();
        terminal::spawn_stdin_reader(tx.clone(), raw.is_some());
        drop(tx);
        let status = emulate(&a, cfg, disks, rx, |_| {});
        drop(raw);
        return status;
    }
    // Window: emulation on its own thread, the window on this one.
    let (vga_tx, vga_rx) = crossbeam_channel::bounded(1);
    let stopped = Arc::new(AtomicBool::new(false));
    let stopped2 = stopped.clone();
    let emu = std::thread::spawn(move || {
        let r = emulate(&a, cfg, disks, rx, |m| {
            let _ = vga_tx.send(m.dev.vga.clone());
        });
        stopped2.store(true, Ordering::Release);
        r
    });
    if let Ok(vga) = vga_rx.recv() {
        if let Err(e) = window::run_window(vga, tx, stopped) {
            eprintln!("oxpc: window: {e}");
        }
    }
    match emu.join() {
        Ok(r) => r,
        Err(_) => bail!("the emulation thread panicked"),
    }
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let status = match cli.cmd {
        Cmd::Run(a) => run(a),
    };
    match status {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // The chain, without repeating causes a message already includes.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let t = cause.to_string();
                if !msg.contains(&t) {
                    msg = format!("{msg}: {t}");
                }
            }
            eprintln!("oxpc: {msg}");
            std::process::exit(1);
        }
    }
}
