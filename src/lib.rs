//! Backdrop: virtual background for Linux video calls.
//!
//! Data flow: [`source`] (camera, file, replayed clip) → [`segment`] (model, inference, mask
//! refinement) → [`compose`] (layers, filters) → [`sink`] (v4l2loopback, file, discard), with
//! [`config`] and [`pipeline`] (threads, pacing, reload) around them. [`process`] and [`bench`]
//! are the front ends of the commands of the same names; [`devices`] reports on V4L2 nodes.

pub mod bench;
pub mod compose;
pub mod config;
pub mod devices;
pub mod ffmpeg;
pub mod files;
pub mod frame;
pub mod media;
pub mod pipeline;
pub mod process;
pub mod segment;
pub mod simd;
pub mod sink;
pub mod source;
pub mod stats;
pub mod v4l2;
