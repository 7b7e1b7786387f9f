//! Round-trip accuracy properties of the block formats on normal data.

use quantize::formats::{blocks_len, dequantize_blocks, quantize_blocks, BlockFormat};

/// Deterministic standard normal samples (xorshift64* and Box-Muller; no dependency).
fn normal(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let mut uniform = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64 // (0, 1)
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}

fn squared_error(format: BlockFormat, x: &[f32]) -> f64 {
    let mut q = vec![0u8; blocks_len(format, x.len()).unwrap()];
    quantize_blocks(format, x, &mut q).unwrap();
    let mut y = vec![0.0f32; x.len()];
    dequantize_blocks(format, &q, &mut y).unwrap();
    x.iter()
        .zip(&y)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "200k values through the IQ4_NL search: too slow under Miri"
)]
fn iq4_nl_is_at_least_as_accurate_as_q4_0_on_normal_data() {
    for (seed, scale) in [(1u64, 1.0f32), (2, 1.0e-3), (3, 250.0)] {
        let x: Vec<f32> = normal(32 * 2048, seed)
            .into_iter()
            .map(|v| v * scale)
            .collect();
        let energy: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        let iq4 = squared_error(BlockFormat::Iq4Nl, &x);
        let q4_0 = squared_error(BlockFormat::Q4_0, &x);
        assert!(iq4 <= q4_0, "seed {seed}: IQ4_NL {iq4:e} > Q4_0 {q4_0:e}");
        // Sanity: every 4-bit format keeps the signal-to-noise ratio well above 10 dB here.
        for format in BlockFormat::ALL {
            // NVFP4's UE4M3 sub-block scales stop at 2^-9: values of order 1e-3 need the
            // two-level recipe (a float32 tensor scale first), so they fall out of its range.
            if format == BlockFormat::Nvfp4 && scale < 0.1 {
                continue;
            }
            let e = squared_error(format, &x);
            let snr_db = 10.0 * (energy / e).log10();
            assert!(snr_db > 15.0, "{format:?}: SNR {snr_db:.1} dB");
        }
    }
}

#[test]
fn errors_are_bounded_by_the_block_scale() {
    // Q4_0 and Q4_1 round to the nearest level (up to the float32 arithmetic and the fp16
    // rounding of the stored scale): |x - y| <= d/2 plus a little.
    let x = normal(32 * 512, 9);
    for format in [BlockFormat::Q4_0, BlockFormat::Q4_1] {
        let mut q = vec![0u8; blocks_len(format, x.len()).unwrap()];
        quantize_blocks(format, &x, &mut q).unwrap();
        let mut y = vec![0.0f32; x.len()];
        dequantize_blocks(format, &q, &mut y).unwrap();
        for (b, (xb, yb)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
            let amax = xb.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let range = xb.iter().fold(f32::MIN, |a, &v| a.max(v))
                - xb.iter().fold(f32::MAX, |a, &v| a.min(v));
            let step = if format == BlockFormat::Q4_0 {
                amax / 8.0
            } else {
                range / 15.0
            };
            for (a, c) in xb.iter().zip(yb) {
                // Q4_0's top code (+8 * |d|) is missing: the positive end may be a full step off.
                let bound = if format == BlockFormat::Q4_0 {
                    step
                } else {
                    0.51 * step
                };
                assert!(
                    (a - c).abs() <= bound * 1.01,
                    "{format:?} block {b}: {a} -> {c}"
                );
            }
        }
    }
}
