//! Pixel buffers passed between stages. Buffers are allocated once and reused across frames.

/// An 8-bit image of `C` interleaved channels, rows packed without padding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pixels<const C: usize> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * C` bytes.
    pub data: Vec<u8>,
}

/// An 8-bit RGB frame.
pub type RgbFrame = Pixels<3>;
/// An 8-bit RGBA image with straight (not premultiplied) alpha.
pub type RgbaImage = Pixels<4>;
/// A single-channel 8-bit plane: the person mask (255 = person) at some resolution.
pub type Mask = Pixels<1>;

impl<const C: usize> Pixels<C> {
    /// All zeros: a black frame, a fully transparent image, an all-background mask.
    pub fn new(width: u32, height: u32) -> Self {
        Pixels {
            width,
            height,
            data: vec![0; width as usize * height as usize * C],
        }
    }

    /// Resizes the buffer in place (allocates only when it grows).
    pub fn reshape(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        self.data.resize(width as usize * height as usize * C, 0);
    }

    /// Pixel count.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }
}
