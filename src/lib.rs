//! Backdrop: virtual background for Linux video calls.
//!
//! Data flow: [`source`] (camera, file) → [`segment`] (model, inference, mask refinement) →
//! [`compose`] (layers, filters) → [`sink`] (v4l2loopback, file), with [`config`] and
//! [`pipeline`] around them.

pub mod bench;
pub mod compose;
pub mod config;
pub mod devices;
pub mod ffmpeg;
pub mod frame;
pub mod live;
pub mod pipeline;
pub mod segment;
pub mod simd;
pub mod sink;
pub mod source;
pub mod stats;
pub mod v4l2;
