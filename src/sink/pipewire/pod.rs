//! SPA pods, PipeWire's binary format for parameters: just enough to offer video formats and
//! buffer sizes and to read the format a consumer chose. (The C builder is made of inline
//! functions and macros, so it cannot be loaded from the library.)
//!
//! Layout: every pod is a header (`u32` body size, `u32` type) and a body padded to 8 bytes. An
//! object's body is its object type, its id, then properties (`u32` key, `u32` flags, a pod); a
//! choice's body is its kind, flags, one child header and the child values back to back.

/// `SPA_TYPE_Id`.
const TYPE_ID: u32 = 3;
/// `SPA_TYPE_Int`.
const TYPE_INT: u32 = 4;
/// `SPA_TYPE_Rectangle`.
const TYPE_RECTANGLE: u32 = 10;
/// `SPA_TYPE_Fraction`.
const TYPE_FRACTION: u32 = 11;
/// `SPA_TYPE_Object`.
const TYPE_OBJECT: u32 = 15;
/// `SPA_TYPE_Choice`.
const TYPE_CHOICE: u32 = 19;
/// `SPA_CHOICE_Range`.
const CHOICE_RANGE: u32 = 1;

/// `SPA_TYPE_OBJECT_Format`.
pub const OBJECT_FORMAT: u32 = 0x40003;
/// `SPA_TYPE_OBJECT_ParamBuffers`.
pub const OBJECT_PARAM_BUFFERS: u32 = 0x40004;
/// `SPA_TYPE_OBJECT_ParamMeta`.
pub const OBJECT_PARAM_META: u32 = 0x40005;
/// `SPA_PARAM_EnumFormat`.
pub const PARAM_ENUM_FORMAT: u32 = 3;
/// `SPA_PARAM_Format`.
pub const PARAM_FORMAT: u32 = 4;
/// `SPA_PARAM_Buffers`.
pub const PARAM_BUFFERS: u32 = 5;
/// `SPA_PARAM_Meta`.
pub const PARAM_META: u32 = 6;
/// `SPA_FORMAT_mediaType`.
pub const FORMAT_MEDIA_TYPE: u32 = 1;
/// `SPA_FORMAT_mediaSubtype`.
pub const FORMAT_MEDIA_SUBTYPE: u32 = 2;
/// `SPA_FORMAT_VIDEO_format`.
pub const FORMAT_VIDEO_FORMAT: u32 = 0x20001;
/// `SPA_FORMAT_VIDEO_size`.
pub const FORMAT_VIDEO_SIZE: u32 = 0x20003;
/// `SPA_FORMAT_VIDEO_framerate`.
pub const FORMAT_VIDEO_FRAMERATE: u32 = 0x20004;
/// `SPA_MEDIA_TYPE_video`.
pub const MEDIA_TYPE_VIDEO: u32 = 2;
/// `SPA_MEDIA_SUBTYPE_raw`.
pub const MEDIA_SUBTYPE_RAW: u32 = 1;
/// `SPA_VIDEO_FORMAT_I420`.
pub const VIDEO_FORMAT_I420: u32 = 2;
/// `SPA_VIDEO_FORMAT_YUY2`.
pub const VIDEO_FORMAT_YUY2: u32 = 4;
/// `SPA_PARAM_BUFFERS_buffers`.
pub const BUFFERS_BUFFERS: u32 = 1;
/// `SPA_PARAM_BUFFERS_blocks`.
pub const BUFFERS_BLOCKS: u32 = 2;
/// `SPA_PARAM_BUFFERS_size`.
pub const BUFFERS_SIZE: u32 = 3;
/// `SPA_PARAM_BUFFERS_stride`.
pub const BUFFERS_STRIDE: u32 = 4;
/// `SPA_PARAM_META_type`.
pub const META_TYPE: u32 = 1;
/// `SPA_PARAM_META_size`.
pub const META_SIZE: u32 = 2;

/// A property value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An enumeration value (`SPA_TYPE_Id`).
    Id(u32),
    /// An integer.
    Int(i32),
    /// A width and height.
    Rectangle(u32, u32),
    /// A fraction (frame rate).
    Fraction(u32, u32),
    /// An integer range: default, min, max.
    IntRange(i32, i32, i32),
}

/// A built pod, 8-byte aligned as PipeWire reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod(Vec<u64>);

impl Pod {
    /// The pod's bytes, starting with its header.
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr() as *const u8
    }

    /// The pod's bytes.
    #[cfg(test)]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: a u64 slice viewed as bytes.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.0.len() * 8) }
    }
}

fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_ne_bytes());
}

fn pad8(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
}

fn push_value(out: &mut Vec<u8>, v: Value) {
    let (ty, body): (u32, Vec<u32>) = match v {
        Value::Id(x) => (TYPE_ID, vec![x]),
        Value::Int(x) => (TYPE_INT, vec![x as u32]),
        Value::Rectangle(w, h) => (TYPE_RECTANGLE, vec![w, h]),
        Value::Fraction(n, d) => (TYPE_FRACTION, vec![n, d]),
        Value::IntRange(def, min, max) => {
            // Choice body: kind, flags, child header (size, type), then the values.
            push_u32(out, 8 + 8 + 12);
            push_u32(out, TYPE_CHOICE);
            for x in [
                CHOICE_RANGE,
                0,
                4,
                TYPE_INT,
                def as u32,
                min as u32,
                max as u32,
            ] {
                push_u32(out, x);
            }
            pad8(out);
            return;
        }
    };
    push_u32(out, body.len() as u32 * 4);
    push_u32(out, ty);
    for x in body {
        push_u32(out, x);
    }
    pad8(out);
}

/// An object pod (`spa_pod_builder_add_object`) with the properties in order.
pub fn object(object_type: u32, id: u32, props: &[(u32, Value)]) -> Pod {
    let mut body = Vec::with_capacity(16 + props.len() * 24);
    push_u32(&mut body, object_type);
    push_u32(&mut body, id);
    for &(key, v) in props {
        push_u32(&mut body, key);
        push_u32(&mut body, 0);
        push_value(&mut body, v);
    }
    let mut out = Vec::with_capacity(body.len() + 8);
    push_u32(&mut out, body.len() as u32);
    push_u32(&mut out, TYPE_OBJECT);
    out.extend_from_slice(&body);
    let words = out
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Pod(words)
}

/// The raw video format a consumer may take: `format` (YUY2 or I420) at `width`x`height` and
/// `fps`.
pub fn video_format(id: u32, format: u32, width: u32, height: u32, fps: u32) -> Pod {
    object(
        OBJECT_FORMAT,
        id,
        &[
            (FORMAT_MEDIA_TYPE, Value::Id(MEDIA_TYPE_VIDEO)),
            (FORMAT_MEDIA_SUBTYPE, Value::Id(MEDIA_SUBTYPE_RAW)),
            (FORMAT_VIDEO_FORMAT, Value::Id(format)),
            (FORMAT_VIDEO_SIZE, Value::Rectangle(width, height)),
            (FORMAT_VIDEO_FRAMERATE, Value::Fraction(fps, 1)),
        ],
    )
}

/// The native-endian `u32` at `at`.
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The value of property `key` of the object pod `pod` (header included), as its type and
/// body; a choice gives its first (default) value.
pub fn find_prop(pod: &[u8], key: u32) -> Option<(u32, &[u8])> {
    let size = u32_at(pod, 0)? as usize;
    if u32_at(pod, 4)? != TYPE_OBJECT {
        return None;
    }
    let body = pod.get(8..8 + size)?;
    let mut at = 8; // object type, id
    while at + 16 <= body.len() {
        let k = u32_at(body, at)?;
        let vsize = u32_at(body, at + 8)? as usize;
        let vtype = u32_at(body, at + 12)?;
        let value = body.get(at + 16..at + 16 + vsize)?;
        if k == key {
            if vtype == TYPE_CHOICE {
                let child_size = u32_at(value, 8)? as usize;
                let child_type = u32_at(value, 12)?;
                return Some((child_type, value.get(16..16 + child_size)?));
            }
            return Some((vtype, value));
        }
        at += 16 + vsize.div_ceil(8) * 8;
    }
    None
}

/// An `Id` property.
pub fn prop_id(pod: &[u8], key: u32) -> Option<u32> {
    match find_prop(pod, key)? {
        (TYPE_ID, b) => u32_at(b, 0),
        _ => None,
    }
}

/// A `Rectangle` property.
pub fn prop_rectangle(pod: &[u8], key: u32) -> Option<(u32, u32)> {
    match find_prop(pod, key)? {
        (TYPE_RECTANGLE, b) => Some((u32_at(b, 0)?, u32_at(b, 4)?)),
        _ => None,
    }
}

/// The bytes of the pod at `p` (header included).
///
/// # Safety
/// `p` must be null or point to a complete pod that stays valid for `'a`.
pub unsafe fn from_ptr<'a>(p: *const u8) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    let size = (p as *const u32).read_unaligned() as usize;
    Some(std::slice::from_raw_parts(p, size + 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(p: &Pod) -> Vec<u32> {
        p.bytes()
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// The layout `spa_pod_builder_add_object` makes for a one-property object (body: object
    /// type, id, then key, flags and the value pod padded to 8 bytes), and a format read back
    /// from a built one.
    #[test]
    fn objects_have_spa_layout_and_read_back() {
        let p = object(OBJECT_PARAM_META, PARAM_META, &[(META_TYPE, Value::Id(1))]);
        assert_eq!(
            words(&p),
            vec![
                32,
                TYPE_OBJECT,
                OBJECT_PARAM_META,
                PARAM_META,
                META_TYPE,
                0,
                4,
                TYPE_ID,
                1,
                0
            ]
        );
        let f = video_format(PARAM_ENUM_FORMAT, VIDEO_FORMAT_I420, 1280, 720, 30);
        assert!(f.bytes().len().is_multiple_of(8));
        assert_eq!(
            prop_id(f.bytes(), FORMAT_MEDIA_TYPE),
            Some(MEDIA_TYPE_VIDEO)
        );
        assert_eq!(
            prop_id(f.bytes(), FORMAT_VIDEO_FORMAT),
            Some(VIDEO_FORMAT_I420)
        );
        assert_eq!(
            prop_rectangle(f.bytes(), FORMAT_VIDEO_SIZE),
            Some((1280, 720))
        );
        assert_eq!(prop_id(f.bytes(), FORMAT_VIDEO_SIZE), None, "wrong type");
        assert_eq!(prop_id(f.bytes(), 0x777), None, "absent");
        // SAFETY: the pod lives for the test.
        assert_eq!(unsafe { from_ptr(f.as_ptr()) }, Some(f.bytes()));
    }

    #[test]
    fn ranges_are_choices_whose_default_reads_back() {
        let p = object(
            OBJECT_PARAM_BUFFERS,
            PARAM_BUFFERS,
            &[
                (BUFFERS_BUFFERS, Value::IntRange(4, 2, 16)),
                (BUFFERS_SIZE, Value::Int(1280 * 720 * 2)),
            ],
        );
        let w = words(&p);
        // key, flags, choice header (size 28), kind Range, flags, child (4, Int), 4, 2, 16, pad
        assert_eq!(
            &w[4..15],
            &[1, 0, 28, TYPE_CHOICE, 1, 0, 4, TYPE_INT, 4, 2, 16]
        );
        assert_eq!(w[15], 0, "padded to 8 bytes");
        assert_eq!(
            find_prop(p.bytes(), BUFFERS_BUFFERS),
            Some((TYPE_INT, &4i32.to_ne_bytes()[..]))
        );
        assert_eq!(
            find_prop(p.bytes(), BUFFERS_SIZE).map(|(_, b)| b.to_vec()),
            Some((1280 * 720 * 2i32).to_ne_bytes().to_vec())
        );
        // Truncated or foreign input gives None, never a panic.
        for n in 0..p.bytes().len() {
            let _ = find_prop(&p.bytes()[..n], BUFFERS_SIZE);
        }
        assert_eq!(find_prop(&[1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0], 1), None);
    }
}
