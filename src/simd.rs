//! Runtime choice of wider vector instructions for this crate's own per-pixel loops.
//!
//! The SIMD crates (fast_image_resize, libblur, yuvutils-rs, zune-jpeg) pick AVX2 at run time
//! themselves; the fused passes written here (mask refinement, compositing) are plain Rust
//! that the compiler vectorises, but only for the baseline x86-64 (SSE2, 16 bytes) unless told
//! otherwise. [`with_avx2!`] compiles such a loop a second time for AVX2 + FMA and runs that
//! copy when the CPU has them: measured 1.5–2x on the refinement passes. Why not
//! `-C target-cpu=native`: a binary built that way crashes on older CPUs.

/// Whether this CPU runs AVX2 and FMA (cached by std after the first check).
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `with_avx2!(body)`: evaluates `body` (a block with no `return`) compiled for AVX2 + FMA
/// when the CPU has them, else as it is. Everything the body calls should be `#[inline]`
/// so that it is compiled into the AVX2 copy too.
#[macro_export]
macro_rules! with_avx2 {
    ($body:block) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            fn __backdrop_avx2<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            if $crate::simd::has_avx2() {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                unsafe { __backdrop_avx2(|| $body) }
            } else {
                $body
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $body
        }
    }};
}
