//! The element type of the `_from` / `_into` functions' float buffers.

/// The element type of a float buffer passed as `void *`: one of `QUANTIZE_FLOAT_*`.
pub type quantize_float_type = u32;
/// IEEE 754 binary32 (`float`): 4-byte elements, 4-byte alignment.
pub const QUANTIZE_FLOAT_F32: quantize_float_type = 0;
/// IEEE 754 binary16 (`_Float16`, `__fp16`, the bits as `uint16_t`): 2 bytes, 2-byte alignment.
pub const QUANTIZE_FLOAT_F16: quantize_float_type = 1;
/// bfloat16, the upper 16 bits of a binary32 (as `uint16_t`): 2 bytes, 2-byte alignment.
pub const QUANTIZE_FLOAT_BF16: quantize_float_type = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float::FloatType;

    #[test]
    fn constants_are_the_contract_values() {
        // The C values are fixed by the contract, written out independently of the Rust enum.
        assert_eq!(
            [QUANTIZE_FLOAT_F32, QUANTIZE_FLOAT_F16, QUANTIZE_FLOAT_BF16],
            [0, 1, 2]
        );
        for (c, t) in [
            (QUANTIZE_FLOAT_F32, FloatType::F32),
            (QUANTIZE_FLOAT_F16, FloatType::F16),
            (QUANTIZE_FLOAT_BF16, FloatType::Bf16),
        ] {
            assert_eq!(FloatType::from_raw(c), Some(t));
        }
    }
}
