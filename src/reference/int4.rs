//! The int4 rules (docs/contract.md §2) as pure functions: the scale methods, a tensor's or a
//! group's parameters from its range, the dequantization parameter checks, and the group ranges.
//! The kernels and the safe API (`crate::int4`, `crate::groups`) both build on them.

use crate::{Error, Result};

/// The smallest and largest element of a validated input (what a level's `scan` returns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub min: f32,
    pub max: f32,
}

/// How the scale (and zero point) are derived from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ScaleMethod {
    /// Asymmetric: the range `[min(0, min x), max(0, max x)]` is mapped onto -8..7.
    #[default]
    MinMax = 0,
    /// Symmetric: the largest magnitude is mapped onto 7; the zero point is 0.
    AbsMax = 1,
}

impl ScaleMethod {
    /// Every method, in C constant order.
    pub const ALL: [ScaleMethod; 2] = [ScaleMethod::MinMax, ScaleMethod::AbsMax];

    /// The method with C constant value `v` (`QUANTIZE_SCALE_*`), if any.
    pub fn from_raw(v: u32) -> Option<ScaleMethod> {
        ScaleMethod::ALL.into_iter().find(|m| *m as u32 == v)
    }
}

/// Scale and zero point of a quantized tensor (or group): `x ≈ (q - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub scale: f32,
    pub zero_point: i8,
}

impl Params {
    /// What an all-zero input, or one whose scale underflows to 0, gets.
    pub const IDENTITY: Params = Params {
        scale: 1.0,
        zero_point: 0,
    };
}

/// Scale and zero point for data whose (validated, finite) extremes are `range` (§2).
pub(crate) fn params_for(range: Range, method: ScaleMethod) -> Params {
    let p = match method {
        ScaleMethod::MinMax => {
            let lo = if range.min < 0.0 { range.min } else { 0.0 };
            let hi = if range.max > 0.0 { range.max } else { 0.0 };
            let scale = (hi - lo) / 15.0;
            // -8 - lo/scale lies in [-8, 7] up to rounding, hence the clamp.
            let zp = (-8.0 - lo / scale).round_ties_even().clamp(-8.0, 7.0);
            Params {
                scale,
                zero_point: zp as i8,
            }
        }
        ScaleMethod::AbsMax => {
            let a = if -range.min > range.max {
                -range.min
            } else {
                range.max
            };
            Params {
                scale: a / 7.0,
                zero_point: 0,
            }
        }
    };
    // All zeros (scale 0, zero point NaN-derived) or an underflowing scale.
    if p.scale > 0.0 {
        p
    } else {
        Params::IDENTITY
    }
}

/// Checks a zero point and a scale given for dequantization, in the contract's order.
pub(crate) fn check_params(p: Params) -> Result<()> {
    if !(-8..=7).contains(&p.zero_point) {
        return Err(Error::ValueOutOfRange);
    }
    if !p.scale.is_finite() {
        return Err(Error::NonFinite);
    }
    Ok(())
}

/// Number of groups: `ceil(n / group_size)`; 0 when `n` or `group_size` is 0.
pub const fn group_count(n: usize, group_size: usize) -> usize {
    match n.checked_div(group_size) {
        Some(whole) => whole + !n.is_multiple_of(group_size) as usize,
        None => 0,
    }
}

/// The element ranges of the groups.
pub(crate) fn groups(n: usize, group_size: usize) -> impl Iterator<Item = core::ops::Range<usize>> {
    (0..n)
        .step_by(group_size)
        .map(move |s| s..n.min(s.saturating_add(group_size)))
}
