//! The examples' charts encoded as PNG: an RGB buffer `w` x `h`, best compression, so that
//! the charts kept in `docs/` stay small and come out the same bits every time.

/// `buf` (RGB, `w` x `h`) as PNG bytes.
pub fn encode(buf: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        enc.set_filter(png::FilterType::Sub);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(buf).unwrap();
    }
    out
}
