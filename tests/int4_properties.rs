//! Invariants of the int4 API on random inputs (docs/contract.md §2).

mod common;

use common::golden::bits;
use proptest::prelude::*;
use quantize::groups::{dequantize_int4_groups, group_count, quantize_int4_groups};
use quantize::int4::*;
use quantize::pack::{pack_int4_to_int8, packed_len, unpack_int8_to_int4};

/// Inputs with a normal (non-subnormal) scale: magnitudes spread over many binades up to 2^126,
/// with exact zeros and both signs. (With a subnormal scale the scale itself is rounded coarsely
/// and the bound below does not hold; the README says so.)
fn inputs() -> impl Strategy<Value = Vec<f32>> {
    let exponent = -100i32..=126;
    let element = prop_oneof![
        4 => -1.0f32..1.0,
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
    ];
    (exponent, prop::collection::vec(element, 1..300)).prop_map(|(e, v)| {
        let s = 2f32.powi(e);
        v.into_iter().map(|x| x * s).collect::<Vec<f32>>()
    })
}

fn method() -> impl Strategy<Value = ScaleMethod> {
    prop_oneof![Just(ScaleMethod::MinMax), Just(ScaleMethod::AbsMax)]
}

fn max_abs(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// |x - y| <= scale/2, plus rounding of the order of an ulp of max|x| (§2).
fn assert_bound(x: &[f32], y: &[f32], p: Params) {
    let tol = p.scale * (0.5 + 2f32.powi(-19)) + max_abs(x) * 2f32.powi(-22);
    for (i, (&a, &b)) in x.iter().zip(y).enumerate() {
        assert!(b.is_finite());
        assert!(
            (a - b).abs() <= tol,
            "element {i}: x={a:e} y={b:e} scale={:e}",
            p.scale
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn round_trip_within_half_a_step(x in inputs(), m in method()) {
        let mut q = vec![0i8; x.len()];
        let p = quantize_to_int4(&x, m, &mut q).unwrap();
        prop_assert!(p.scale.is_finite() && p.scale > 0.0);
        prop_assert!((-8..=7).contains(&p.zero_point));
        if m == ScaleMethod::AbsMax {
            prop_assert_eq!(p.zero_point, 0);
        }
        let mut y = vec![0.0f32; x.len()];
        dequantize_from_int4(&q, p, &mut y).unwrap();
        assert_bound(&x, &y, p);
        // Zero is exactly representable (the range always contains it).
        for (&a, &b) in x.iter().zip(&y) {
            if a == 0.0 { prop_assert_eq!(b, 0.0); }
        }
    }

    #[test]
    fn fused_equals_unfused(x in inputs(), m in method()) {
        let n = x.len();
        let mut q = vec![0i8; n];
        let p = quantize_to_int4(&x, m, &mut q).unwrap();
        let mut packed = vec![0u8; packed_len(n)];
        pack_int4_to_int8(&q, &mut packed).unwrap();
        let mut fused = vec![0u8; packed_len(n)];
        let pf = quantize_to_int4_packed(&x, m, &mut fused).unwrap();
        prop_assert_eq!(p, pf);
        prop_assert_eq!(&packed, &fused);

        let mut unpacked = vec![0i8; n];
        unpack_int8_to_int4(&packed, &mut unpacked).unwrap();
        prop_assert_eq!(&unpacked, &q);
        let mut y1 = vec![0.0f32; n];
        dequantize_from_int4(&unpacked, p, &mut y1).unwrap();
        let mut y2 = vec![0.0f32; n];
        dequantize_from_int4_packed(&fused, p, &mut y2).unwrap();
        prop_assert_eq!(bits(&y1), bits(&y2));
    }

    #[test]
    fn one_group_equals_per_tensor(x in inputs(), m in method()) {
        let n = x.len();
        let mut fused = vec![0u8; packed_len(n)];
        let p = quantize_to_int4_packed(&x, m, &mut fused).unwrap();
        let mut codes = vec![0u8; packed_len(n)];
        let (mut s, mut z) = ([0.0f32], [0i8]);
        quantize_int4_groups(&x, n, m, &mut codes, &mut s, &mut z).unwrap();
        prop_assert_eq!(&codes, &fused);
        prop_assert_eq!(Params { scale: s[0], zero_point: z[0] }, p);
        // A group size larger than n is one group too.
        quantize_int4_groups(&x, n + 5, m, &mut codes, &mut s, &mut z).unwrap();
        prop_assert_eq!(&codes, &fused);
    }

    #[test]
    fn groups_round_trip_within_their_own_step(x in inputs(), m in method(), gs in 1usize..80) {
        let n = x.len();
        let count = group_count(n, gs);
        let mut codes = vec![0u8; packed_len(n)];
        let mut scales = vec![0.0f32; count];
        let mut zps = vec![0i8; count];
        quantize_int4_groups(&x, gs, m, &mut codes, &mut scales, &mut zps).unwrap();
        let mut y = vec![0.0f32; n];
        dequantize_int4_groups(&codes, gs, &scales, &zps, &mut y).unwrap();
        for (g, (xc, yc)) in x.chunks(gs).zip(y.chunks(gs)).enumerate() {
            assert_bound(xc, yc, Params { scale: scales[g], zero_point: zps[g] });
        }
        if m == ScaleMethod::AbsMax {
            // Omitted zero points mean 0, which is what ABSMAX writes.
            let mut y0 = vec![0.0f32; n];
            dequantize_int4_groups(&codes, gs, &scales, &[], &mut y0).unwrap();
            prop_assert_eq!(bits(&y0), bits(&y));
        }
    }

    #[test]
    fn pack_unpack_round_trip(q in prop::collection::vec(-8i8..=7, 0..100)) {
        let mut packed = vec![0u8; packed_len(q.len())];
        pack_int4_to_int8(&q, &mut packed).unwrap();
        let mut back = vec![0i8; q.len()];
        unpack_int8_to_int4(&packed, &mut back).unwrap();
        prop_assert_eq!(back, q);
    }
}

#[test]
fn every_byte_unpacks_and_packs_back() {
    let all: Vec<u8> = (0..=255).collect();
    let mut codes = vec![0i8; 512];
    unpack_int8_to_int4(&all, &mut codes).unwrap();
    for (b, pair) in all.iter().zip(codes.chunks(2)) {
        // Independent statement of the layout: low nibble first, two's complement.
        let nib = |v: u8| if v < 8 { v as i8 } else { v as i8 - 16 };
        assert_eq!(pair, [nib(b & 0xF), nib(b >> 4)], "byte {b:#04x}");
    }
    let mut again = vec![0u8; 256];
    pack_int4_to_int8(&codes, &mut again).unwrap();
    assert_eq!(again, all);
}
