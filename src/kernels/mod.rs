//! Hot loops. One portable scalar reference ([`scalar`]) is the oracle; SIMD variants must equal
//! it bit for bit. The level in use is chosen once, at first use, and reported by
//! [`kernel_name`].

/// Gives every function (safe or `unsafe`, not `const`) in the block `#[inline]` and
/// `#[target_feature(enable = $features)]`, and passes every other item through: the per-level
/// primitives of `lanes` and the kernels of `simd` are written in such blocks, so that no function
/// of a level can miss the level's features (or repeat them).
macro_rules! with_features {
    ($f:literal;) => {};
    ($f:literal; $(#[$m:meta])* $v:vis fn $($rest:tt)*) => {
        with_features!(@fn $f; [$(#[$m])* $v fn] $($rest)*);
    };
    ($f:literal; $(#[$m:meta])* $v:vis unsafe fn $($rest:tt)*) => {
        with_features!(@fn $f; [$(#[$m])* $v unsafe fn] $($rest)*);
    };
    ($f:literal; $i:item $($rest:tt)*) => {
        $i
        with_features!($f; $($rest)*);
    };
    (@fn $f:literal; [$($head:tt)*] $name:ident $(<$(const $c:ident: $ct:ty),*>)?
        ($($args:tt)*) $(-> $r:ty)? $body:block $($rest:tt)*) => {
        #[inline]
        #[target_feature(enable = $f)]
        $($head)* $name $(<$(const $c: $ct),*>)? ($($args)*) $(-> $r)? $body
        with_features!($f; $($rest)*);
    };
}

/// Defines primitives that are one expression each, with the level's features.
macro_rules! ops {
    ($features:literal; $($name:ident($($a:ident: $t:ty),*) -> $r:ty = $e:expr;)*) => {$(
        #[inline]
        #[target_feature(enable = $features)]
        pub(crate) fn $name($($a: $t),*) -> $r {
            $e
        }
    )*};
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon", not(miri)))]
pub(crate) mod aarch64;
pub(crate) mod chunks;
pub(crate) mod groups;
// The per-ISA primitives the kernels of `simd` are written over (the layer below them).
#[cfg(all(
    any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    ),
    not(miri)
))]
pub(crate) mod lanes;
pub(crate) mod scalar;
// Kernels written once over a level's lane primitives and expanded for each level.
#[cfg(all(
    any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    ),
    not(miri)
))]
pub(crate) mod simd;
// The level-against-reference suites compare each SIMD level with the scalar one: under Miri
// there is only the scalar level, so they would compare it with itself (at great cost). Miri
// checks the scalar code and the drivers through the other unit tests and the integration tests.
#[cfg(all(test, not(miri)))]
mod tests;
#[cfg(all(test, not(miri)))]
mod tests_blocks;
#[cfg(all(test, not(miri)))]
mod tests_half;
#[cfg(all(target_arch = "x86_64", not(miri)))]
pub(crate) mod x86_64;

use crate::reference::codebook::Codebook;
use crate::reference::formats::BlockFormat;
pub(crate) use crate::reference::formats::{DequantizeBlocks, QuantizeBlocks};
use crate::reference::int4::ScaleMethod;
use crate::Result;
use core::mem::MaybeUninit;

pub(crate) use crate::reference::int4::Range;

/// Sums that error statistics are computed from (see `crate::stats`). Every kernel level must
/// produce exactly the same values, so the summation order is fixed by the scalar reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ErrorSums {
    pub sum_abs: f64,
    pub sum_sq: f64,
    pub sum_x_sq: f64,
    pub max_abs: f64,
    pub max_abs_index: usize,
}

/// A SIMD level, in rank order: `QUANTIZE_MAX_ISA` caps the choice at a rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// The portable reference (every platform).
    Scalar,
    /// aarch64 Advanced SIMD.
    Neon,
    /// x86-64 AVX2 with F16C.
    Avx2,
    /// x86-64 AVX-512 (F, BW, DQ, VL).
    Avx512,
}

impl Level {
    /// Every level, lowest rank first.
    pub(crate) const ALL: [Level; 4] = [Level::Scalar, Level::Neon, Level::Avx2, Level::Avx512];

    /// The level's name, as `quantize_kernel_name` reports it and `QUANTIZE_MAX_ISA` takes it.
    pub(crate) const fn c_name(self) -> &'static core::ffi::CStr {
        match self {
            Level::Scalar => c"scalar",
            Level::Neon => c"neon",
            Level::Avx2 => c"avx2",
            Level::Avx512 => c"avx512",
        }
    }

    /// [`Level::c_name`] as a `&str`.
    pub(crate) fn name(self) -> &'static str {
        // The names are ASCII literals.
        self.c_name().to_str().unwrap_or("scalar")
    }

    /// The level named `name` (any case, surrounding spaces ignored), if any.
    pub(crate) fn from_name(name: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// One SIMD level's implementations of the hot loops. All functions assume their slices have
/// the lengths the caller checked; none of them allocates or panics on valid lengths.
pub(crate) struct Kernels {
    /// Which level these are.
    pub level: Level,
    /// Min and max of `src`; the first element (in index order) that is NaN/±Inf
    /// (`NonFinite`) or beyond ±2^126 (`ValueOutOfRange`) is an error. `src` is non-empty.
    pub scan: fn(src: &[f32]) -> Result<Range>,
    /// `dst[i] = clamp(rne(src[i] / scale) + zp, -8, 7)`; `dst.len() == src.len()`.
    pub quantize: fn(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]),
    /// As `quantize`, packed two per byte; `dst.len() == packed_len(src.len())`.
    pub quantize_packed: fn(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]),
    /// `dst[i] = (src[i] - zp) as f32 * scale`; `dst.len() == src.len()`; codes already valid.
    pub dequantize: fn(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]),
    /// As `dequantize`, from packed codes; `src.len() == packed_len(dst.len())`.
    pub dequantize_packed: fn(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]),
    /// Index of the first code outside -8..7, if any.
    pub find_invalid_code: fn(src: &[i8]) -> Option<usize>,
    /// Packs valid codes; `dst.len() == packed_len(src.len())`.
    pub pack: fn(src: &[i8], dst: &mut [MaybeUninit<u8>]),
    /// Unpacks with sign extension; `src.len() == packed_len(dst.len())`.
    pub unpack: fn(src: &[u8], dst: &mut [MaybeUninit<i8>]),
    /// Error sums of two inputs of equal length; `NonFinite` if either holds NaN or ±Inf.
    pub error_sums: fn(x: &[f32], y: &[f32]) -> Result<ErrorSums>,
    /// float16 bit patterns to float32 (exact); `dst.len() == src.len()`.
    pub widen_f16: fn(src: &[u16], dst: &mut [MaybeUninit<f32>]),
    /// bfloat16 bit patterns to float32 (exact); `dst.len() == src.len()`.
    pub widen_bf16: fn(src: &[u16], dst: &mut [MaybeUninit<f32>]),
    /// float32 to float16, to nearest, ties to even; `dst.len() == src.len()`.
    pub narrow_f16: fn(src: &[f32], dst: &mut [MaybeUninit<u16>]),
    /// float32 to bfloat16, to nearest, ties to even; `dst.len() == src.len()`.
    pub narrow_bf16: fn(src: &[f32], dst: &mut [MaybeUninit<u16>]),
    /// The block-wise formats (ggml blocks, codebooks, int4 groups).
    pub blocks: &'static BlockKernels,
}

/// A level's kernels for some of the block formats, by `BlockFormat as usize`; `None` runs the
/// format's scalar reference (its [`crate::reference::formats::Spec`]), so a new format needs no entry here
/// until a level accelerates it. Build one with [`format_tables`].
pub(crate) type FormatTable<T> = [Option<T>; BlockFormat::COUNT];

/// The table holding the entries of every list (a later entry for the same format wins) and
/// `None` for every other format. A level lists the tables its kernel modules export (e.g.
/// `simd::superblocks::avx2::QUANTIZE`), so no level's file names a format.
pub(crate) const fn format_tables<T: Copy>(lists: &[&[(BlockFormat, T)]]) -> FormatTable<T> {
    let mut table = [None; BlockFormat::COUNT];
    let mut l = 0;
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            table[lists[l][i].0 as usize] = Some(lists[l][i].1);
            i += 1;
        }
        l += 1;
    }
    table
}

/// Codebook quantization of all blocks (see [`BlockKernels::quantize_codebook`]).
pub(crate) type QuantizeCodebook = fn(
    book: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()>;
/// Codebook dequantization of all blocks (see [`BlockKernels::dequantize_codebook`]).
pub(crate) type DequantizeCodebook = fn(
    book: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()>;
/// Group-wise int4 quantization of all groups (see [`BlockKernels::quantize_groups`]).
pub(crate) type QuantizeGroups = fn(
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()>;
/// Group-wise int4 dequantization of all groups (see [`BlockKernels::dequantize_groups`]).
pub(crate) type DequantizeGroups = fn(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()>;

/// One SIMD level's kernels of the block-wise formats. Each one runs over all blocks in index
/// order with the caller's lengths already checked (slices exactly as long as `n` needs) and, on
/// bad data, returns the error of the first bad block having written at most the blocks before
/// it (a block may be validated before it is written). The scalar entries call the per-block
/// references in `crate::reference`, which stay the oracle.
pub(crate) struct BlockKernels {
    /// The formats this level accelerates (the others run their scalar reference).
    pub quantize_blocks: FormatTable<QuantizeBlocks>,
    /// As `quantize_blocks`.
    pub dequantize_blocks: FormatTable<DequantizeBlocks>,
    /// `crate::codebook::quantize_codebook` after its argument checks: `codes.len() ==
    /// codes_len(n)`, `absmax.len() == absmax_len(n, block_size)`, valid `block_size`.
    pub quantize_codebook: QuantizeCodebook,
    /// `crate::codebook::dequantize_codebook` after its argument checks (lengths as above).
    pub dequantize_codebook: DequantizeCodebook,
    /// `crate::groups::quantize_int4_groups` after its argument checks: `codes.len() ==
    /// packed_len(n)`, `scales.len()` the group count, `zero_points.len()` the group count or 0
    /// (absmax only: none written), `group_size > 0`.
    pub quantize_groups: QuantizeGroups,
    /// `crate::groups::dequantize_int4_groups` after its length checks (lengths as for
    /// `quantize_groups`); a group's bad zero point or scale is its data error.
    pub dequantize_groups: DequantizeGroups,
}

impl Kernels {
    /// This level's quantizer of `format`: its own kernel or the format's scalar reference.
    pub(crate) fn quantize_blocks(&self, format: BlockFormat) -> QuantizeBlocks {
        self.blocks.quantize_blocks[format as usize].unwrap_or(format.spec().quantize)
    }

    /// This level's dequantizer of `format`: its own kernel or the format's scalar reference.
    pub(crate) fn dequantize_blocks(&self, format: BlockFormat) -> DequantizeBlocks {
        self.blocks.dequantize_blocks[format as usize].unwrap_or(format.spec().dequantize)
    }
}

/// Every level this CPU can run, best first; the scalar reference is always last.
pub(crate) fn levels() -> Vec<&'static Kernels> {
    let mut v: Vec<&'static Kernels> = Vec::new();
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        if x86_64::avx512::available() {
            v.push(&x86_64::avx512::KERNELS);
        }
        if x86_64::avx2::available() {
            v.push(&x86_64::avx2::KERNELS);
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon", not(miri)))]
    if aarch64::neon::available() {
        v.push(&aarch64::neon::KERNELS);
    }
    v.push(&scalar::KERNELS);
    v
}

/// The best level this CPU can run, lowered to at most `max_isa` (a level name, from the
/// environment variable QUANTIZE_MAX_ISA) when that names a known level.
fn choose(max_isa: Option<&str>) -> &'static Kernels {
    let cap = max_isa.and_then(Level::from_name);
    levels()
        .into_iter()
        .find(|k| cap.is_none_or(|c| k.level <= c))
        .unwrap_or(&scalar::KERNELS)
}

/// The kernels in use: chosen once, at first use, and cached (the library's only global state).
/// Fuzz builds only: `fuzzing::with_level` may override it for the current thread.
pub(crate) fn active() -> &'static Kernels {
    #[cfg(any(all(test, not(miri)), fuzzing))]
    if let Some(k) = OVERRIDE.get() {
        return k;
    }
    chosen()
}

#[cfg(any(all(test, not(miri)), fuzzing))]
thread_local! {
    /// Test and fuzz builds only: the level [`active`] returns on this thread instead of the
    /// cached choice (see [`with_kernels`]).
    static OVERRIDE: std::cell::Cell<Option<&'static Kernels>> = const { std::cell::Cell::new(None) };
}

/// Test and fuzz builds only: runs `f` with every library call on this thread using level `k`;
/// the previous setting is restored afterwards, even on a panic.
#[cfg(any(all(test, not(miri)), fuzzing))]
pub(crate) fn with_kernels<R>(k: &'static Kernels, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<&'static Kernels>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.set(self.0);
        }
    }
    let _restore = Restore(OVERRIDE.replace(Some(k)));
    f()
}

/// The level chosen at first use (best available, capped by QUANTIZE_MAX_ISA), cached.
fn chosen() -> &'static Kernels {
    static CHOSEN: std::sync::OnceLock<&'static Kernels> = std::sync::OnceLock::new();
    CHOSEN.get_or_init(|| choose(std::env::var("QUANTIZE_MAX_ISA").ok().as_deref()))
}

/// The name of the SIMD level in use: "scalar", "avx2", "avx512" or "neon".
pub fn kernel_name() -> &'static str {
    active().level.name()
}

/// A hook for the fuzz crate, compiled only under `cfg(fuzzing)` (cargo-fuzz passes
/// `--cfg fuzzing`), so normal builds have neither it nor the check in [`active`]. It lets one
/// process run the same C calls under every SIMD level and compare the results byte for byte.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// The levels the process may use, best first, scalar last: the one the library chose
    /// (honouring QUANTIZE_MAX_ISA) and every level below it that this CPU can run.
    pub fn level_names() -> Vec<&'static str> {
        let top = super::chosen().level;
        let levels = super::levels().into_iter().skip_while(|k| k.level != top);
        levels.map(|k| k.level.name()).collect()
    }

    /// Runs `f` with every library call on this thread using level `name` (one of
    /// [`level_names`]); the previous setting is restored afterwards, even on a panic.
    /// Panics on a name this CPU cannot run.
    pub fn with_level<R>(name: &str, f: impl FnOnce() -> R) -> R {
        let k = super::levels()
            .into_iter()
            .find(|k| k.level.name() == name)
            .unwrap_or_else(|| panic!("SIMD level {name:?} is not available on this CPU"));
        super::with_kernels(k, f)
    }
}
