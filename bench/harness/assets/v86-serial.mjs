// Runs the v86 emulator (npm package `v86`) headless under Node.js with its
// COM1 on this process's stdin/stdout, so that the oxpc bench harness drives
// it like every other emulator: bytes the guest writes to the serial port go
// to stdout as they come, lines read from stdin are typed into the serial
// port. Not modelled: VGA, keyboard, disks (the guest boots by bzimage).
//
// usage: node v86-serial.mjs V86_DIR BIOS VGABIOS BZIMAGE INITRD CMDLINE MEGS
import fs from "node:fs";
import path from "node:path";
import process from "node:process";

const [v86Dir, bios, vgaBios, bzimage, initrd, cmdline, megs] = process.argv.slice(2);
if (!megs) {
    console.error("usage: v86-serial.mjs V86_DIR BIOS VGABIOS BZIMAGE INITRD CMDLINE MEGS");
    process.exit(2);
}
const { V86 } = await import(path.join(v86Dir, "build", "libv86.mjs"));
const buf = (f) => {
    const b = fs.readFileSync(f);
    return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
};

const emulator = new V86({
    wasm_path: path.join(v86Dir, "build", "v86.wasm"),
    bios: buf(bios),
    vga_bios: buf(vgaBios),
    bzimage: buf(bzimage),
    initrd: buf(initrd),
    cmdline,
    memory_size: Number(megs) * 1024 * 1024,
    vga_memory_size: 8 * 1024 * 1024,
    disable_speaker: true,
    autostart: true,
});

// Batch output bytes into one write per event-loop turn.
let pending = [];
emulator.add_listener("serial0-output-byte", (byte) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(byte);
});
function flush() {
    if (pending.length) {
        process.stdout.write(Buffer.from(pending));
        pending = [];
    }
}

process.stdin.on("data", (chunk) => emulator.serial0_send(chunk.toString("latin1")));
process.stdin.on("end", () => {
    flush();
    emulator.destroy();
    process.exit(0);
});
