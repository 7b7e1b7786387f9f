//! ggml tensor types: ids, names and block sizes as GGUF files store them, and the mapping from
//! libquantize's block formats to the GGUF type and llama.cpp file type they are written as.

use quantize::formats::BlockFormat;

/// One ggml tensor type: `block` values take `bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgmlType {
    pub id: u32,
    pub name: &'static str,
    pub block: u64,
    pub bytes: u64,
}

pub const F32: u32 = 0;
pub const F16: u32 = 1;
pub const I8: u32 = 24;
pub const I16: u32 = 25;
pub const I32: u32 = 26;
pub const I64: u32 = 27;
pub const F64: u32 = 28;
pub const BF16: u32 = 30;

const fn t(id: u32, name: &'static str, block: u64, bytes: u64) -> GgmlType {
    GgmlType {
        id,
        name,
        block,
        bytes,
    }
}

/// Every type a GGUF file may hold today (ggml's type table; ids 4, 5 and 31-33 were removed
/// from ggml and are rejected). A copied tensor needs its byte size, so an unknown id is an
/// error rather than a guess.
pub const TYPES: &[GgmlType] = &[
    t(0, "F32", 1, 4),
    t(1, "F16", 1, 2),
    t(2, "Q4_0", 32, 18),
    t(3, "Q4_1", 32, 20),
    t(6, "Q5_0", 32, 22),
    t(7, "Q5_1", 32, 24),
    t(8, "Q8_0", 32, 34),
    t(9, "Q8_1", 32, 40),
    t(10, "Q2_K", 256, 84),
    t(11, "Q3_K", 256, 110),
    t(12, "Q4_K", 256, 144),
    t(13, "Q5_K", 256, 176),
    t(14, "Q6_K", 256, 210),
    t(15, "Q8_K", 256, 292),
    t(16, "IQ2_XXS", 256, 66),
    t(17, "IQ2_XS", 256, 74),
    t(18, "IQ3_XXS", 256, 98),
    t(19, "IQ1_S", 256, 50),
    t(20, "IQ4_NL", 32, 18),
    t(21, "IQ3_S", 256, 110),
    t(22, "IQ2_S", 256, 82),
    t(23, "IQ4_XS", 256, 136),
    t(I8, "I8", 1, 1),
    t(I16, "I16", 1, 2),
    t(I32, "I32", 1, 4),
    t(I64, "I64", 1, 8),
    t(F64, "F64", 1, 8),
    t(29, "IQ1_M", 256, 56),
    t(BF16, "BF16", 1, 2),
    t(34, "TQ1_0", 256, 54),
    t(35, "TQ2_0", 256, 66),
    t(39, "MXFP4", 32, 17),
    t(40, "NVFP4", 64, 36),
    t(41, "Q1_0", 128, 18),
];

/// The type with GGUF id `id`.
pub fn by_id(id: u32) -> Option<&'static GgmlType> {
    TYPES.iter().find(|t| t.id == id)
}

/// A printable name for a type id, known or not.
pub fn name(id: u32) -> String {
    by_id(id).map_or_else(|| format!("type {id}"), |t| t.name.to_string())
}

/// Bytes of a tensor of type `t` with dims `ne` (innermost first), or None when the row is not
/// a whole number of blocks or the size overflows u64.
pub fn tensor_bytes(t: &GgmlType, ne: &[u64]) -> Option<u64> {
    let (&row, rest) = ne.split_first()?;
    if row % t.block != 0 {
        return None;
    }
    rest.iter()
        .try_fold((row / t.block).checked_mul(t.bytes)?, |acc, &d| {
            acc.checked_mul(d)
        })
}

/// Bytes of one element of a float type the tool quantizes (F32, F16, BF16).
pub fn float_size(id: u32) -> Option<usize> {
    match id {
        F32 => Some(4),
        F16 | BF16 => Some(2),
        _ => None,
    }
}

/// The GGUF tensor type and llama.cpp file type (`general.file_type`, LLAMA_FTYPE_MOSTLY_*) a
/// block format is written as, matched by the format's ggml name so formats added to the library
/// are picked up once listed here. Pure Q4_K is LLAMA_FTYPE_MOSTLY_Q4_K_S (14): every quantized
/// tensor is Q4_K, none is raised to Q5_K/Q6_K as Q4_K_M would do.
pub fn gguf_types(format: BlockFormat) -> Option<(u32, u32)> {
    Some(match format.name() {
        "q4_0" => (2, 2),
        "q4_1" => (3, 3),
        "q4_k" => (12, 14),
        "iq4_nl" => (20, 25),
        "iq4_xs" => (23, 30),
        "mxfp4" => (39, 38),
        "nvfp4" => (40, 39),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_format_has_a_gguf_type_of_its_block_size() {
        for f in BlockFormat::ALL {
            let (id, _) = gguf_types(f).unwrap_or_else(|| panic!("{} unmapped", f.name()));
            let t = by_id(id).unwrap();
            assert_eq!((t.block, t.bytes), (f.elements() as u64, f.bytes() as u64));
            assert_eq!(t.name.to_ascii_lowercase(), f.name());
        }
    }

    #[test]
    fn sizes() {
        let q = by_id(2).unwrap();
        assert_eq!(tensor_bytes(q, &[64, 3]), Some(2 * 18 * 3));
        assert_eq!(tensor_bytes(q, &[48, 3]), None);
        assert_eq!(tensor_bytes(by_id(0).unwrap(), &[u64::MAX, 2]), None);
        assert_eq!(tensor_bytes(by_id(0).unwrap(), &[5]), Some(20));
    }
}
