//! Turning fuzz bytes into structured choices.
//!
//! Choices come from the input bytes (through `arbitrary::Unstructured`) while they last, then
//! from a small PRNG seeded by a hash of the whole input, so a short input can still describe
//! 4096 varied floats and every input is replayed identically.

use arbitrary::Unstructured;

/// Largest element count the targets use for real buffers (keeps one run fast).
pub const MAX_N: usize = 4096;

/// 2^126, the int4 quantizers' largest accepted magnitude (docs/contract.md §2.8), built from
/// its bits.
pub const TWO_126: f32 = f32::from_bits((126 + 127) << 23);

pub struct Draw<'a> {
    u: Unstructured<'a>,
    rng: u64,
}

impl<'a> Draw<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Draw {
            u: Unstructured::new(data),
            rng: crate::fnv(data) | 1,
        }
    }

    fn next_rng(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// One byte of choice.
    pub fn byte(&mut self) -> u8 {
        if self.u.is_empty() {
            (self.next_rng() >> 56) as u8
        } else {
            self.u.arbitrary::<u8>().unwrap_or(0)
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// Uniform-ish in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        let v = if span <= 256 {
            u64::from(self.byte())
        } else if span <= 65536 {
            u64::from(self.u16())
        } else {
            self.u64()
        };
        lo + (v % span) as usize
    }

    /// True with probability about `num / 256`.
    pub fn chance(&mut self, num: u32) -> bool {
        u32::from(self.byte()) < num
    }

    /// An element count: mostly small, sometimes up to [`MAX_N`].
    pub fn n(&mut self) -> usize {
        match self.byte() % 32 {
            0..=21 => self.range(0, 40),
            22..=28 => self.range(0, 300),
            29 => self.range(0, MAX_N),
            _ => [
                0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 96, 128, 255, 256, 4095, 4096,
            ][self.byte() as usize % 16],
        }
    }

    /// An enum value as C may pass it: mostly a valid one (`0..valid`), sometimes anything.
    pub fn enum_value(&mut self, valid: u32) -> u32 {
        match self.byte() % 16 {
            0 => {
                [valid, valid + 1, 99, 0x7FFF_FFFF, 0x8000_0000, u32::MAX][self.byte() as usize % 6]
            }
            1 => self.u32(),
            _ => u32::from(self.byte()) % valid,
        }
    }

    /// An int4 code, sometimes outside -8..7.
    pub fn code(&mut self) -> i8 {
        let b = self.byte();
        if b < 8 {
            self.byte() as i8 // anything, mostly out of range
        } else {
            (b % 16) as i8 - 8
        }
    }

    /// How wild the values of one array are.
    pub fn mode(&mut self) -> Mode {
        match self.byte() % 8 {
            0..=3 => Mode::Clean,
            4 | 5 => Mode::Finite,
            _ => Mode::Wild,
        }
    }

    /// A float of `mode`: ordinary values at a varying scale, and (Finite, Wild) the contract's
    /// edge values: ±2^126 and its neighbours, ±f32::MAX, fp16 limits, and (Wild) NaN, ±Inf.
    /// Every mode has subnormals and -0.0.
    pub fn float(&mut self, scale_exp: i32, mode: Mode) -> f32 {
        let mut sel = self.byte();
        if mode == Mode::Clean && sel >= 200 && !matches!(sel, 215..=219 | 228 | 229) {
            sel %= 200;
        }
        let v = self.float_of(sel, scale_exp);
        if mode != Mode::Wild && !v.is_finite() {
            0.0
        } else {
            v
        }
    }

    /// The scale and zero point given to an int4 dequantizer: mostly a finite positive value
    /// (an fp16 one) and a valid zero point, otherwise any float (NaN, ±Inf too) and any
    /// zero point.
    pub fn dequantize_params(&mut self) -> (f32, i8) {
        let scale = if self.chance(200) {
            crate::oracle::f16_to_f32(self.u16() & 0x7BFF)
        } else {
            let e = self.scale_exp();
            self.float(e, Mode::Wild)
        };
        let zp = if self.chance(230) {
            self.code_of(Mode::Clean)
        } else {
            self.code()
        };
        (scale, zp)
    }

    /// An int4 code of `mode`: out-of-range ones only when Wild.
    pub fn code_of(&mut self, mode: Mode) -> i8 {
        if mode == Mode::Wild {
            self.code()
        } else {
            (self.byte() % 16) as i8 - 8
        }
    }

    fn float_of(&mut self, sel: u8, scale_exp: i32) -> f32 {
        match sel {
            0..=199 => {
                // A small signed value on a 1/8 grid (many exact ties for rounding), scaled by
                // 2^scale_exp, with a little mantissa noise now and then.
                let v = f32::from(self.byte() as i8) / 8.0;
                let v = mul_pow2(v, scale_exp);
                if sel < 60 {
                    f32::from_bits(v.to_bits() ^ u32::from(self.byte() & 0x0F))
                } else {
                    v
                }
            }
            200..=209 => f32::from_bits(self.u32()), // anything at all
            210 => f32::NAN,
            211 => f32::from_bits(0xFFC0_0000 | u32::from(self.byte())), // -NaN with payload
            212 => f32::from_bits(0x7F80_0001 | (u32::from(self.byte()) << 8)), // signalling NaN
            213 => f32::INFINITY,
            214 => f32::NEG_INFINITY,
            215..=219 => {
                // Subnormal, either sign.
                let m = self.u32() & 0x007F_FFFF;
                f32::from_bits(m.max(1) | (u32::from(sel & 1) << 31))
            }
            220..=227 => {
                // 2^126, one ulp below, one ulp above, either sign.
                let bits = TWO_126.to_bits();
                let b = match sel % 4 {
                    0 | 1 => bits,
                    2 => bits - 1,
                    _ => bits + 1,
                };
                f32::from_bits(b | (u32::from(sel & 1) << 31))
            }
            228 => -0.0,
            229 => 0.0,
            230 => f32::MAX,
            231 => -f32::MAX,
            232 => f32::MIN_POSITIVE,
            233 => -f32::MIN_POSITIVE,
            234..=239 => {
                // Around the fp16 overflow limits of the block formats' scales.
                let base = [65504.0f32, 65520.0, 524_160.0, 524_288.0, 982_800.0, 8.3e6]
                    [(sel - 234) as usize];
                let nudge = i32::from(self.byte() % 3) - 1;
                let b = (base.to_bits() as i32 + nudge) as u32;
                let v = f32::from_bits(b);
                if self.byte() & 1 == 1 {
                    -v
                } else {
                    v
                }
            }
            240..=247 => {
                // Any exponent, random mantissa.
                let e = u32::from(self.byte()) % 254 + 1;
                f32::from_bits((e << 23) | (self.u32() & 0x807F_FFFF))
            }
            _ => f32::from(self.byte() as i8),
        }
    }

    /// A per-array scale exponent for [`Draw::float`]: usually 0, sometimes very large or small.
    pub fn scale_exp(&mut self) -> i32 {
        match self.byte() % 8 {
            0..=4 => 0,
            5 => self.range(0, 60) as i32 - 30,
            _ => self.range(0, 276) as i32 - 149,
        }
    }
}

/// How wild an array's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Finite, within every format's range (subnormals and -0.0 included).
    Clean,
    /// Finite, including values beyond 2^126 and the fp16 limits.
    Finite,
    /// Anything, NaN and infinities included.
    Wild,
}

/// `v * 2^e`, exactly when representable (two steps so 2^e itself never overflows).
pub fn mul_pow2(v: f32, e: i32) -> f32 {
    let half = e / 2;
    v * pow2(half) * pow2(e - half)
}

/// 2^e as f32 for -149 <= e <= 127 (0 or inf outside).
pub fn pow2(e: i32) -> f32 {
    if e > 127 {
        f32::INFINITY
    } else if e >= -126 {
        f32::from_bits(((e + 127) as u32) << 23)
    } else if e >= -149 {
        f32::from_bits(1u32 << (e + 149))
    } else {
        0.0
    }
}
