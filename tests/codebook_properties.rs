//! NF4 / FP4 codebooks: properties that hold for any finite input within range.

use proptest::prelude::*;
use quantize::codebook::{dequantize_codebook, quantize_codebook, Codebook};

const LIMIT: f32 = 8.507_059e37; // 2^126

fn element() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -1.0f32..1.0,
        2 => -1e6f32..1e6,
        1 => -1e-30f32..1e-30,
        1 => -LIMIT..LIMIT,
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => any::<u32>().prop_map(|b| f32::from_bits(b & 0x807F_FFFF)), // subnormals
    ]
}

fn input() -> impl Strategy<Value = (Codebook, usize, Vec<f32>)> {
    (
        prop::sample::select(Codebook::ALL.to_vec()),
        prop::sample::select(vec![32usize, 64, 128, 256, 512, 1024, 2048, 4096]),
        prop::collection::vec(element(), 0..400),
    )
}

fn nibble(codes: &[u8], i: usize) -> usize {
    let b = codes[i / 2];
    usize::from(if i.is_multiple_of(2) {
        b >> 4
    } else {
        b & 0x0F
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn codes_are_nearest_values_and_round_trips_are_close((cb, bs, src) in input()) {
        let n = src.len();
        let mut codes = vec![0u8; n.div_ceil(2)];
        let mut absmax = vec![0f32; n.div_ceil(bs)];
        quantize_codebook(cb, &src, bs, &mut codes, &mut absmax).unwrap();
        let mut dst = vec![0f32; n];
        dequantize_codebook(cb, &codes, bs, &absmax, &mut dst).unwrap();

        let t = cb.values();
        let mut sorted = *t;
        sorted.sort_by(f32::total_cmp);
        let half_gap = sorted.windows(2).map(|w| w[1] - w[0]).fold(0.0, f32::max) / 2.0;

        for (b, block) in src.chunks(bs).enumerate() {
            let a = block.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            prop_assert_eq!(absmax[b].to_bits(), a.to_bits());
            let r = if a == 0.0 { 0.0 } else { 1.0 / a };
            if !r.is_finite() {
                continue; // 0 < absmax < 2^-128: covered by the golden vectors
            }
            for (j, &x) in block.iter().enumerate() {
                let i = b * bs + j;
                let v = x * r;
                let c = nibble(&codes, i);
                let best = t.iter().map(|&q| (q - v).abs()).fold(f32::INFINITY, f32::min);
                // bitsandbytes' thresholds are float32 roundings of the midpoints
                prop_assert!((t[c] - v).abs() <= best + 1e-6, "x {} v {} code {}", x, v, c);
                prop_assert!((x - dst[i]).abs() <= half_gap * a * 1.000_01);
                prop_assert_eq!(dst[i].to_bits(), (t[c] * a).to_bits());
            }
        }
        if n % 2 == 1 {
            let zero = t.iter().position(|&q| q.to_bits() == 0).unwrap();
            prop_assert_eq!(nibble(&codes, n), zero);
        }
    }

    /// Quantizing the dequantized values gives back the same absmax and codes (FP4's -0.0 code
    /// comes back as +0.0: a negative zero has no sign bit in bitsandbytes' encoder).
    #[test]
    fn quantize_is_idempotent_on_its_own_output((cb, bs, src) in input()) {
        let n = src.len();
        let mut codes = vec![0u8; n.div_ceil(2)];
        let mut absmax = vec![0f32; n.div_ceil(bs)];
        quantize_codebook(cb, &src, bs, &mut codes, &mut absmax).unwrap();
        if absmax.iter().any(|&a| a != 0.0 && !(1.0 / a).is_finite()) {
            return Ok(());
        }
        let mut dst = vec![0f32; n];
        dequantize_codebook(cb, &codes, bs, &absmax, &mut dst).unwrap();
        let mut codes2 = vec![0u8; n.div_ceil(2)];
        let mut absmax2 = vec![0f32; n.div_ceil(bs)];
        quantize_codebook(cb, &dst, bs, &mut codes2, &mut absmax2).unwrap();
        prop_assert_eq!(&absmax, &absmax2);
        for i in 0..n {
            let (c1, c2) = (nibble(&codes, i), nibble(&codes2, i));
            let c1 = if cb == Codebook::Fp4 && c1 == 8 { 0 } else { c1 };
            prop_assert_eq!(c1, c2, "element {}", i);
        }
    }
}
