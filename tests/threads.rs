//! Eight threads calling the C API at once get what one thread gets.

use quantize::ffi::*;
use quantize::stats::ErrorStats;
use std::sync::Barrier;

/// Everything one round of calls produces, compared bit for bit.
#[derive(PartialEq, Debug)]
struct Outputs {
    codes: Vec<i8>,
    params: (u32, i8),
    packed: Vec<u8>,
    restored: Vec<u32>,
    groups: (Vec<u8>, Vec<u32>, Vec<i8>),
    group_restored: Vec<u32>,
    stats: [u64; 5],
    kernel: String,
}

fn round(x: &[f32]) -> Outputs {
    let n = x.len();
    let mut codes = vec![0i8; n];
    let (mut scale, mut zp) = (0.0f32, 0i8);
    let mut packed = vec![0u8; quantize_packed_len(n)];
    let (mut s2, mut z2) = (0.0f32, 0i8);
    let mut restored = vec![0.0f32; n];
    let gs = 32;
    let count = quantize_group_count(n, gs);
    let mut gcodes = vec![0u8; quantize_packed_len(n)];
    let mut scales = vec![0.0f32; count];
    let mut zps = vec![0i8; count];
    let mut grest = vec![0.0f32; n];
    let mut stats = ErrorStats::default();
    unsafe {
        assert_eq!(
            quantize_to_int4(
                x.as_ptr(),
                n,
                QUANTIZE_SCALE_MINMAX,
                codes.as_mut_ptr(),
                &mut scale,
                &mut zp
            ),
            QUANTIZE_OK
        );
        assert_eq!(
            quantize_to_int4_packed(
                x.as_ptr(),
                n,
                QUANTIZE_SCALE_MINMAX,
                packed.as_mut_ptr(),
                packed.len(),
                &mut s2,
                &mut z2
            ),
            QUANTIZE_OK
        );
        assert_eq!(
            dequantize_from_int4_packed(
                packed.as_ptr(),
                packed.len(),
                n,
                scale,
                zp,
                restored.as_mut_ptr()
            ),
            QUANTIZE_OK
        );
        assert_eq!(
            quantize_int4_groups(
                x.as_ptr(),
                n,
                gs,
                QUANTIZE_SCALE_ABSMAX,
                gcodes.as_mut_ptr(),
                gcodes.len(),
                scales.as_mut_ptr(),
                count,
                zps.as_mut_ptr(),
                count
            ),
            QUANTIZE_OK
        );
        assert_eq!(
            dequantize_int4_groups(
                gcodes.as_ptr(),
                gcodes.len(),
                n,
                gs,
                scales.as_ptr(),
                count,
                zps.as_ptr(),
                count,
                grest.as_mut_ptr()
            ),
            QUANTIZE_OK
        );
        assert_eq!(
            quantize_measure_error(x.as_ptr(), restored.as_ptr(), n, &mut stats),
            QUANTIZE_OK
        );
    }
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    Outputs {
        codes,
        params: (scale.to_bits(), zp),
        packed,
        restored: bits(&restored),
        groups: (gcodes, bits(&scales), zps),
        group_restored: bits(&grest),
        stats: [
            stats.mean_abs_error,
            stats.max_abs_error,
            stats.mean_squared_error,
            stats.rmse,
            stats.sqnr_db,
        ]
        .map(f64::to_bits),
        kernel: quantize::kernel_name().to_string(),
    }
}

#[test]
fn eight_threads_agree_with_one() {
    let x: Vec<f32> = (0..100_003)
        .map(|i| ((i as f32) * 0.618_034).sin() * (1.0 + (i % 97) as f32))
        .collect();
    let expected = round(&x);
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    (0..5).map(|_| round(&x)).collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for got in h.join().unwrap() {
                assert!(
                    got == expected,
                    "a thread's results differ from the single-threaded run"
                );
            }
        }
    });
}
