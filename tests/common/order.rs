//! The check-order cases of every fallible C function, as data: for each function (and each
//! format, codebook, method or float type it takes) a valid baseline call and a list of faults,
//! each making exactly one phase of [`check_order::CHECK_ORDER`] fail. `tests/abi_check_order.rs`
//! runs every fault alone (its phase's status), every pair of faults of different phases (the
//! earlier phase's status, from `CHECK_ORDER`), and the baseline (OK), against the C ABI and,
//! where the phase exists there, the Rust API.
//!
//! Nothing here calls the library: sizes are worked out from docs/contract.md, statuses come
//! from `check_order.rs`.

use super::check_order::{Phase, EMPTY_INPUT, OK};

/// A fallible C function (`_from`/`_into`: the half-precision siblings, with a float type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    QuantizeToInt4,
    QuantizeToInt4From,
    DequantizeFromInt4,
    DequantizeFromInt4Into,
    PackInt4ToInt8,
    UnpackInt8ToInt4,
    QuantizeToInt4Packed,
    QuantizeToInt4PackedFrom,
    DequantizeFromInt4Packed,
    DequantizeFromInt4PackedInto,
    QuantizeInt4Groups,
    QuantizeInt4GroupsFrom,
    DequantizeInt4Groups,
    DequantizeInt4GroupsInto,
    QuantizeBlocks,
    QuantizeBlocksFrom,
    DequantizeBlocks,
    DequantizeBlocksInto,
    QuantizeCodebookBlocks,
    QuantizeCodebookBlocksFrom,
    DequantizeCodebookBlocks,
    DequantizeCodebookBlocksInto,
    MeasureError,
    MeasureErrorFrom,
}

/// The scalar parameters of a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// The format, codebook or scale method (whichever the function takes).
    pub kind: u32,
    /// QUANTIZE_FLOAT_*: 0 F32, 1 F16, 2 BF16 (for `_from`/`_into`; 0 otherwise).
    pub float_type: u32,
    pub n: usize,
    /// Group or block size (groups, codebooks).
    pub size: usize,
    /// Dequantization scale and zero point (per-tensor int4).
    pub scale: f32,
    pub zero_point: i8,
}

/// Element sizes of the float types (0 for an unknown one).
pub fn float_size(float_type: u32) -> usize {
    match float_type {
        0 => 4,
        1 | 2 => 2,
        _ => 0,
    }
}

/// One pointer argument.
#[derive(Clone, Debug)]
pub struct Buf {
    pub name: &'static str,
    /// Bytes per element; 0: the float type's size (a `_from` source or `_into` destination).
    pub elem: usize,
    /// Required alignment in bytes; 0: the float type's size.
    pub align: usize,
    /// Elements the baseline call needs of it.
    pub need: usize,
    /// Its stated length parameter (`Some`), or none (its length follows from n).
    pub stated: Option<usize>,
    /// The call writes it.
    pub written: bool,
    /// A scalar out-pointer (needed whatever n is).
    pub scalar: bool,
    /// Its baseline contents, as bytes (shorter than the buffer: the rest is zero).
    pub fill: Vec<u8>,
}

impl Buf {
    pub fn elem_size(&self, float_type: u32) -> usize {
        if self.elem == 0 {
            float_size(float_type).max(1)
        } else {
            self.elem
        }
    }
    pub fn align_of(&self, float_type: u32) -> usize {
        if self.align == 0 {
            float_size(float_type).max(1)
        } else {
            self.align
        }
    }
    /// Whether n = 0 makes it need nothing (and so NULL, short or overlapping harmless).
    pub fn follows_n(&self) -> bool {
        !self.scalar
    }
}

/// What a fault changes in the baseline call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    /// `kind` (an unknown format, codebook or method).
    Kind(u32),
    FloatType(u32),
    /// The group or block size.
    Size(usize),
    /// n (too large, or not a whole number of blocks).
    N(usize),
    /// Buffer i is NULL (its stated length unchanged).
    Null(usize),
    /// Buffer i one byte off its alignment.
    Misalign(usize),
    /// Buffer i's stated length one element short of what n needs.
    Short(usize),
    /// Buffer `moved` placed at the start of buffer `onto`.
    Overlap {
        moved: usize,
        onto: usize,
    },
    /// Buffer `moved` placed `offset` bytes into buffer `onto` (rows only).
    OverlapAt {
        moved: usize,
        onto: usize,
        offset: usize,
    },
    /// Buffer i's stated length set to this many elements (rows only).
    Len(usize, usize),
    /// n = 0.
    Empty,
    /// Bytes written into buffer `buf` at byte offset `at` (a bad element, scale or code).
    Data {
        buf: usize,
        at: usize,
        bytes: [u8; 4],
        len: usize,
    },
    /// The scale parameter.
    Scale(f32),
    /// The zero-point parameter.
    ZeroPoint(i8),
}

impl Change {
    /// The buffers it touches (two faults on one buffer are not combined).
    pub fn buffers(&self) -> Vec<usize> {
        match *self {
            Change::Null(i) | Change::Misalign(i) | Change::Short(i) => vec![i],
            Change::Overlap { moved, onto } | Change::OverlapAt { moved, onto, .. } => {
                vec![moved, onto]
            }
            Change::Len(i, _) => vec![i],
            _ => vec![],
        }
    }
    /// Whether it sets a scalar parameter, and which (two such faults are not combined).
    fn param(&self) -> Option<u8> {
        match self {
            Change::Kind(_) => Some(0),
            Change::FloatType(_) => Some(1),
            Change::Size(_) => Some(2),
            Change::N(_) | Change::Empty => Some(3),
            Change::Scale(_) => Some(4),
            Change::ZeroPoint(_) => Some(5),
            _ => None,
        }
    }
}

/// One fault: a change that makes exactly `phase` fail.
#[derive(Clone, Debug)]
pub struct Fault {
    pub what: String,
    pub phase: Phase,
    pub change: Change,
    /// The status for [`Phase::Data`] faults (the other phases take theirs from CHECK_ORDER).
    pub data_status: i32,
}

/// The status a phase returns for a case.
pub fn phase_status(case: &Case, fault: &Fault) -> i32 {
    match fault.phase {
        Phase::EmptyInput => case.empty_status,
        Phase::Data => fault.data_status,
        p => super::check_order::status(p).expect("a phase with a status"),
    }
}

/// A hand-written call with several changes at once (NULL with a zero length, lengths and
/// offsets of its own): `phase` is the one that must decide, and it is never [`Phase::Data`].
#[derive(Clone, Debug)]
pub struct Row {
    pub what: String,
    pub changes: Vec<Change>,
    pub phase: Phase,
}

/// One function in one configuration: a valid baseline call and its faults.
#[derive(Clone, Debug)]
pub struct Case {
    pub func: Func,
    pub label: String,
    pub params: Params,
    pub bufs: Vec<Buf>,
    pub faults: Vec<Fault>,
    /// What n = 0 returns: EMPTY_INPUT or OK.
    pub empty_status: i32,
    /// Hand-written calls beyond the single faults and their pairs.
    pub rows: Vec<Row>,
}

impl Case {
    /// Whether two faults can be applied together and still each make their phase fail.
    pub fn combinable(&self, a: &Fault, b: &Fault) -> bool {
        if a.phase == b.phase {
            return false;
        }
        if a.change
            .buffers()
            .iter()
            .any(|i| b.change.buffers().contains(i))
        {
            return false;
        }
        if let (Some(x), Some(y)) = (a.change.param(), b.change.param()) {
            if x == y {
                return false;
            }
        }
        // n = 0 needs nothing of the buffers that follow n: a short, overlapping or NULL one of
        // them (without a stated length) no longer fails, and there is no data.
        let empty_breaks = |e: &Fault, o: &Fault| {
            matches!(e.change, Change::Empty)
                && match o.change {
                    Change::Short(_) | Change::Overlap { .. } => true,
                    Change::Data { .. } | Change::Scale(_) | Change::ZeroPoint(_) => true,
                    Change::Null(i) => self.bufs[i].follows_n() && self.bufs[i].stated.is_none(),
                    _ => false,
                }
        };
        !(empty_breaks(a, b) || empty_breaks(b, a))
    }
}

// ---------------------------------------------------------------------------------------------
// Building the table.

const NAN_F32: [u8; 4] = 0x7FC0_0000u32.to_le_bytes();
const NAN_F16: [u8; 4] = [0x00, 0x7E, 0, 0];
const NAN_BF16: [u8; 4] = [0xC0, 0x7F, 0, 0];

/// Block formats: (QUANTIZE_FORMAT_*, name, elements, bytes per block).
pub const FORMATS: [(u32, &str, usize, usize); 7] = [
    (0, "q4_0", 32, 18),
    (1, "q4_1", 32, 20),
    (2, "iq4_nl", 32, 18),
    (3, "mxfp4", 32, 17),
    (4, "q4_k", 256, 144),
    (5, "iq4_xs", 256, 136),
    (6, "nvfp4", 64, 36),
];

pub const FLOAT_TYPES: [(u32, &str); 3] = [(0, "f32"), (1, "f16"), (2, "bf16")];

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// n values of a smooth finite signal, in the given float type's encoding.
fn signal(n: usize, float_type: u32) -> Vec<u8> {
    let v: Vec<f32> = (0..n)
        .map(|i| 2.5 * ((i as f32) * 0.61 + 0.3).sin())
        .collect();
    match float_type {
        // F16: finite values in [1, 2) (any finite pattern is a valid input); BF16: the values'
        // upper halves.
        1 => v
            .iter()
            .flat_map(|&x| (0x3C00u16 + ((x.abs() * 64.0) as u16 & 0x3FF)).to_le_bytes())
            .collect(),
        2 => v
            .iter()
            .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
            .collect(),
        _ => f32_bytes(&v),
    }
}

fn nan_of(float_type: u32) -> ([u8; 4], usize) {
    match float_type {
        1 => (NAN_F16, 2),
        2 => (NAN_BF16, 2),
        _ => (NAN_F32, 4),
    }
}

/// n too large for any buffer of `elem`-byte elements.
fn too_large(elem: usize) -> usize {
    if elem <= 1 {
        usize::MAX
    } else {
        usize::MAX / elem + 1
    }
}

fn buf(name: &'static str, elem: usize, need: usize, stated: bool, written: bool) -> Buf {
    Buf {
        name,
        elem,
        align: elem,
        need,
        stated: stated.then_some(need),
        written,
        scalar: false,
        fill: Vec::new(),
    }
}

fn scalar(name: &'static str, elem: usize, align: usize) -> Buf {
    Buf {
        name,
        elem,
        align,
        need: 1,
        stated: None,
        written: true,
        scalar: true,
        fill: Vec::new(),
    }
}

struct Builder {
    case: Case,
}

impl Builder {
    fn new(func: Func, label: String, params: Params, bufs: Vec<Buf>, empty_status: i32) -> Self {
        Builder {
            case: Case {
                func,
                label,
                params,
                bufs,
                faults: Vec::new(),
                empty_status,
                rows: Vec::new(),
            },
        }
    }
    fn fault(&mut self, phase: Phase, change: Change, what: impl Into<String>) -> &mut Self {
        self.case.faults.push(Fault {
            what: what.into(),
            phase,
            change,
            data_status: OK,
        });
        self
    }
    fn data(&mut self, change: Change, status: i32, what: impl Into<String>) -> &mut Self {
        self.case.faults.push(Fault {
            what: what.into(),
            phase: Phase::Data,
            change,
            data_status: status,
        });
        self
    }
    fn idx(&self, name: &str) -> usize {
        self.case
            .bufs
            .iter()
            .position(|b| b.name == name)
            .unwrap_or_else(|| panic!("{}: no buffer {name}", self.case.label))
    }
    /// The faults every function has: n too large, NULL for each buffer, n = 0.
    fn common(&mut self, too_large_elem: usize) -> &mut Self {
        self.fault(
            Phase::InvalidArgument,
            Change::N(too_large(too_large_elem)),
            "n too large",
        );
        for i in 0..self.case.bufs.len() {
            let name = self.case.bufs[i].name;
            self.fault(Phase::NullPointer, Change::Null(i), format!("{name} NULL"));
        }
        self.fault(Phase::EmptyInput, Change::Empty, "n = 0");
        self
    }
    fn misalign(&mut self, names: &[&str]) -> &mut Self {
        for name in names {
            let i = self.idx(name);
            self.fault(
                Phase::Misaligned,
                Change::Misalign(i),
                format!("{name} misaligned"),
            );
        }
        self
    }
    fn short(&mut self, names: &[&str]) -> &mut Self {
        for name in names {
            let i = self.idx(name);
            self.fault(
                Phase::BufferTooSmall,
                Change::Short(i),
                format!("{name} short"),
            );
        }
        self
    }
    fn overlap(&mut self, moved: &str, onto: &str) -> &mut Self {
        let (m, o) = (self.idx(moved), self.idx(onto));
        self.fault(
            Phase::Overlap,
            Change::Overlap { moved: m, onto: o },
            format!("{moved} over {onto}"),
        )
    }
    fn bad(
        &mut self,
        name: &str,
        at: usize,
        bytes: ([u8; 4], usize),
        status: i32,
        what: &str,
    ) -> &mut Self {
        let i = self.idx(name);
        self.data(
            Change::Data {
                buf: i,
                at,
                bytes: bytes.0,
                len: bytes.1,
            },
            status,
            what,
        )
    }
    fn row(&mut self, phase: Phase, changes: Vec<Change>, what: &str) -> &mut Self {
        self.case.rows.push(Row {
            what: what.into(),
            changes,
            phase,
        });
        self
    }
    fn fill(&mut self, name: &str, bytes: Vec<u8>) -> &mut Self {
        let i = self.idx(name);
        self.case.bufs[i].fill = bytes;
        self
    }
    fn done(&mut self) -> Case {
        self.case.clone()
    }
}

const NON_FINITE: i32 = 4;
const VALUE_OUT_OF_RANGE: i32 = 6;

fn params(kind: u32, float_type: u32, n: usize, size: usize) -> Params {
    Params {
        kind,
        float_type,
        n,
        size,
        scale: 0.5,
        zero_point: 1,
    }
}

/// Every case of the table.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let halves = |plain: Func, from: Func| {
        std::iter::once((plain, 0u32, String::new())).chain(
            FLOAT_TYPES
                .into_iter()
                .map(move |(t, name)| (from, t, format!(" {name}"))),
        )
    };

    // --- per-tensor int4 ---------------------------------------------------------------------
    for (func, ft, tname) in halves(Func::QuantizeToInt4, Func::QuantizeToInt4From) {
        let n = 4;
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(0, ft, n, 0),
            vec![
                buf("src", 0, n, false, false),
                buf("dst", 1, n, false, true),
                scalar("scale", 4, 4),
                scalar("zero_point", 1, 1),
            ],
            EMPTY_INPUT,
        );
        b.fill("src", signal(n, ft));
        if func == Func::QuantizeToInt4From {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(3),
                "unknown float type",
            );
        }
        b.fault(Phase::InvalidArgument, Change::Kind(2), "unknown method")
            .common(4)
            .misalign(&["src", "scale"])
            .overlap("dst", "src")
            .overlap("scale", "src")
            .overlap("zero_point", "src")
            .bad("src", 2 * float_size(ft), nan_of(ft), NON_FINITE, "NaN");
        if ft == 0 {
            b.bad(
                "src",
                4,
                (1e38f32.to_le_bytes(), 4),
                VALUE_OUT_OF_RANGE,
                "|x| > 2^126",
            );
        }
        out.push(b.done());
    }
    for (func, ft, tname) in halves(Func::QuantizeToInt4Packed, Func::QuantizeToInt4PackedFrom) {
        let n = 5;
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(1, ft, n, 0),
            vec![
                buf("src", 0, n, false, false),
                buf("dst", 1, n.div_ceil(2), true, true),
                scalar("scale", 4, 4),
                scalar("zero_point", 1, 1),
            ],
            EMPTY_INPUT,
        );
        b.fill("src", signal(n, ft));
        if func == Func::QuantizeToInt4PackedFrom {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(7),
                "unknown float type",
            );
        }
        b.fault(Phase::InvalidArgument, Change::Kind(7), "unknown method")
            .common(4)
            .misalign(&["src", "scale"])
            .short(&["dst"])
            .overlap("dst", "src")
            .overlap("scale", "src")
            .bad("src", 0, nan_of(ft), NON_FINITE, "NaN");
        out.push(b.done());
    }
    for (func, ft, tname) in halves(Func::DequantizeFromInt4, Func::DequantizeFromInt4Into) {
        let n = 4;
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(0, ft, n, 0),
            vec![
                buf("src", 1, n, false, false),
                buf("dst", 0, n, false, true),
            ],
            OK,
        );
        b.fill("src", vec![0xF9, 0, 7, 3]);
        if func == Func::DequantizeFromInt4Into {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(3),
                "unknown float type",
            );
        }
        b.common(4)
            .misalign(&["dst"])
            .overlap("src", "dst")
            .data(Change::ZeroPoint(8), VALUE_OUT_OF_RANGE, "zero point 8")
            .data(Change::Scale(f32::NAN), NON_FINITE, "NaN scale")
            .bad("src", 1, ([9, 0, 0, 0], 1), VALUE_OUT_OF_RANGE, "code 9");
        out.push(b.done());
    }
    for (func, ft, tname) in halves(
        Func::DequantizeFromInt4Packed,
        Func::DequantizeFromInt4PackedInto,
    ) {
        let n = 5;
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(0, ft, n, 0),
            vec![
                buf("src", 1, n.div_ceil(2), true, false),
                buf("dst", 0, n, false, true),
            ],
            OK,
        );
        if func == Func::DequantizeFromInt4PackedInto {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(3),
                "unknown float type",
            );
        }
        b.common(4)
            .misalign(&["dst"])
            .short(&["src"])
            .overlap("src", "dst")
            .data(Change::ZeroPoint(-9), VALUE_OUT_OF_RANGE, "zero point -9")
            .data(Change::Scale(f32::NEG_INFINITY), NON_FINITE, "scale -inf");
        out.push(b.done());
    }
    {
        let n = 5;
        let mut b = Builder::new(
            Func::PackInt4ToInt8,
            "PackInt4ToInt8".into(),
            params(0, 0, n, 0),
            vec![
                buf("src", 1, n, false, false),
                buf("dst", 1, n.div_ceil(2), true, true),
            ],
            OK,
        );
        b.fill("src", vec![1, 0xFF, 7, 0xF8, 0])
            .common(1)
            .short(&["dst"])
            .overlap("dst", "src")
            .bad(
                "src",
                2,
                ([0xF7, 0, 0, 0], 1),
                VALUE_OUT_OF_RANGE,
                "code -9",
            );
        out.push(b.done());
        let mut b = Builder::new(
            Func::UnpackInt8ToInt4,
            "UnpackInt8ToInt4".into(),
            params(0, 0, n, 0),
            vec![
                buf("src", 1, n.div_ceil(2), true, false),
                buf("dst", 1, n, false, true),
            ],
            OK,
        );
        b.common(1).short(&["src"]).overlap("dst", "src");
        out.push(b.done());
    }

    // --- group-wise int4 ---------------------------------------------------------------------
    for (func, ft, tname) in halves(Func::QuantizeInt4Groups, Func::QuantizeInt4GroupsFrom) {
        let (n, gs): (usize, usize) = (7, 2);
        let g = n.div_ceil(gs);
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(0, ft, n, gs),
            vec![
                buf("src", 0, n, false, false),
                buf("codes", 1, n.div_ceil(2), true, true),
                buf("scales", 4, g, true, true),
                buf("zero_points", 1, g, true, true),
            ],
            OK,
        );
        b.fill("src", signal(n, ft));
        if func == Func::QuantizeInt4GroupsFrom {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(3),
                "unknown float type",
            );
        }
        b.fault(Phase::InvalidArgument, Change::Kind(2), "unknown method")
            .fault(Phase::InvalidArgument, Change::Size(0), "group size 0")
            .common(4)
            .misalign(&["src", "scales"])
            .short(&["codes", "scales", "zero_points"])
            .overlap("codes", "src")
            .overlap("scales", "src")
            .overlap("zero_points", "scales")
            .bad("src", 3 * float_size(ft), nan_of(ft), NON_FINITE, "NaN");
        out.push(b.done());
    }
    for (func, ft, tname) in halves(Func::DequantizeInt4Groups, Func::DequantizeInt4GroupsInto) {
        let (n, gs): (usize, usize) = (7, 2);
        let g = n.div_ceil(gs);
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(0, ft, n, gs),
            vec![
                buf("codes", 1, n.div_ceil(2), true, false),
                buf("scales", 4, g, true, false),
                buf("zero_points", 1, g, true, false),
                buf("dst", 0, n, false, true),
            ],
            OK,
        );
        b.fill("scales", f32_bytes(&vec![0.25; g]));
        if func == Func::DequantizeInt4GroupsInto {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(3),
                "unknown float type",
            );
        }
        b.fault(Phase::InvalidArgument, Change::Size(0), "group size 0")
            .common(4)
            .misalign(&["scales", "dst"])
            .short(&["codes", "scales", "zero_points"])
            .overlap("codes", "dst")
            .overlap("scales", "dst")
            .overlap("zero_points", "dst")
            .bad("scales", 4, (NAN_F32, 4), NON_FINITE, "NaN scale")
            .bad(
                "zero_points",
                2,
                ([8, 0, 0, 0], 1),
                VALUE_OUT_OF_RANGE,
                "zero point 8",
            );
        out.push(b.done());
    }

    // --- block formats -----------------------------------------------------------------------
    for (format, fname, e, bb) in FORMATS {
        for (func, ft, tname) in halves(Func::QuantizeBlocks, Func::QuantizeBlocksFrom) {
            let n = 2 * e;
            let mut b = Builder::new(
                func,
                format!("{func:?} {fname}{tname}"),
                params(format, ft, n, 0),
                vec![
                    buf("src", 0, n, false, false),
                    buf("dst", 1, 2 * bb, true, true),
                ],
                OK,
            );
            b.fill("src", signal(n, ft));
            if func == Func::QuantizeBlocksFrom {
                b.fault(
                    Phase::InvalidArgument,
                    Change::FloatType(3),
                    "unknown float type",
                );
            }
            b.fault(Phase::InvalidArgument, Change::Kind(7), "unknown format")
                .fault(
                    Phase::InvalidArgument,
                    Change::Kind(u32::MAX),
                    "format u32::MAX",
                )
                .common(4)
                .misalign(&["src"])
                .fault(Phase::Length, Change::N(n - 1), "n not whole blocks")
                .short(&["dst"])
                .overlap("dst", "src")
                .bad(
                    "src",
                    (e + 3) * float_size(ft),
                    nan_of(ft),
                    NON_FINITE,
                    "NaN",
                );
            // Several failing phases at once (formerly tests/blocks_abi.rs); n = e + 1 is not a
            // whole number of blocks.
            use Change::*;
            use Phase::*;
            let odd = e + 1;
            b.row(
                InvalidArgument,
                vec![Kind(9), Null(0), N(odd), Null(1), Len(1, 0)],
                "unknown format beats everything",
            )
            .row(
                InvalidArgument,
                vec![N(usize::MAX / 2), Len(1, 0)],
                "n too large",
            )
            .row(
                NullPointer,
                vec![Null(0), N(odd), Len(1, 1)],
                "src NULL, n not whole blocks",
            )
            .row(
                NullPointer,
                vec![Null(1), Len(1, 1)],
                "dst NULL with a length",
            )
            .row(
                Misaligned,
                vec![Misalign(0), N(odd), Len(1, 0)],
                "alignment before lengths",
            )
            .row(
                Length,
                vec![N(odd), Len(1, 0)],
                "LENGTH before BUFFER_TOO_SMALL",
            )
            .row(
                BufferTooSmall,
                vec![Null(1), Len(1, 0)],
                "NULL with length 0 is empty",
            )
            .row(
                Overlap,
                vec![OverlapAt {
                    moved: 1,
                    onto: 0,
                    offset: 8,
                }],
                "dst 8 bytes into src",
            )
            .row(
                EmptyInput,
                vec![Empty, Null(0), Null(1), Len(1, 0)],
                "n = 0, all NULL",
            )
            .row(EmptyInput, vec![Empty, Len(1, 7)], "n = 0, dst 7 bytes");
            out.push(b.done());
        }
        for (func, ft, tname) in halves(Func::DequantizeBlocks, Func::DequantizeBlocksInto) {
            let n = 2 * e;
            let mut b = Builder::new(
                func,
                format!("{func:?} {fname}{tname}"),
                params(format, ft, n, 0),
                vec![
                    buf("src", 1, 2 * bb, true, false),
                    buf("dst", 0, n, false, true),
                ],
                OK,
            );
            if func == Func::DequantizeBlocksInto {
                b.fault(
                    Phase::InvalidArgument,
                    Change::FloatType(3),
                    "unknown float type",
                );
            }
            b.fault(Phase::InvalidArgument, Change::Kind(7), "unknown format")
                .common(4)
                .misalign(&["dst"])
                .fault(Phase::Length, Change::N(n - 1), "n not whole blocks")
                .short(&["src"])
                .overlap("src", "dst");
            // A bad scale in block 1 (ggml's fp16 d first; MXFP4's E8M0 byte 0xFF; NVFP4
            // accepts every byte).
            match fname {
                "mxfp4" => {
                    b.bad("src", bb, ([0xFF, 0, 0, 0], 1), NON_FINITE, "E8M0 0xFF");
                }
                "nvfp4" => {}
                _ => {
                    b.bad(
                        "src",
                        bb,
                        ([0x00, 0x7E, 0, 0], 2),
                        NON_FINITE,
                        "fp16 NaN scale",
                    );
                }
            }
            // Several failing phases at once (formerly tests/blocks_abi.rs).
            use Change::*;
            use Phase::*;
            let odd = e + 1;
            b.row(
                NullPointer,
                vec![Null(0), Len(0, 1)],
                "src NULL with a short length",
            )
            .row(
                Misaligned,
                vec![Misalign(1), N(odd)],
                "alignment before LENGTH",
            )
            .row(Length, vec![N(odd)], "n = e + 1")
            .row(
                BufferTooSmall,
                vec![Null(0), Len(0, 0)],
                "NULL with length 0 is empty",
            )
            .row(
                Overlap,
                vec![OverlapAt {
                    moved: 0,
                    onto: 1,
                    offset: 100,
                }],
                "src 100 bytes into dst",
            )
            .row(
                EmptyInput,
                vec![Empty, Null(0), Null(1), Len(0, 0)],
                "n = 0, all NULL",
            );
            out.push(b.done());
        }
    }

    // --- codebooks ---------------------------------------------------------------------------
    for (cb, cname) in [(0u32, "nf4"), (1, "fp4")] {
        for (func, ft, tname) in halves(
            Func::QuantizeCodebookBlocks,
            Func::QuantizeCodebookBlocksFrom,
        ) {
            let (n, bs): (usize, usize) = (70, 32);
            let mut b = Builder::new(
                func,
                format!("{func:?} {cname}{tname}"),
                params(cb, ft, n, bs),
                vec![
                    buf("src", 0, n, false, false),
                    buf("codes", 1, n.div_ceil(2), true, true),
                    buf("absmax", 4, n.div_ceil(bs), true, true),
                ],
                OK,
            );
            b.fill("src", signal(n, ft));
            if func == Func::QuantizeCodebookBlocksFrom {
                b.fault(
                    Phase::InvalidArgument,
                    Change::FloatType(3),
                    "unknown float type",
                );
            }
            b.fault(Phase::InvalidArgument, Change::Kind(2), "unknown codebook")
                .fault(Phase::InvalidArgument, Change::Size(48), "block size 48")
                .common(4)
                .misalign(&["src", "absmax"])
                .short(&["codes", "absmax"])
                .overlap("codes", "src")
                .overlap("absmax", "src")
                .bad("src", 40 * float_size(ft), nan_of(ft), NON_FINITE, "NaN");
            // Parameters before every NULL and length, and n = 0 with NULL buffers (formerly
            // tests/codebook_abi.rs).
            use Change::*;
            use Phase::*;
            let nulls = [Null(0), Null(1), Len(1, 0), Null(2), Len(2, 0)];
            let with = |first: &[Change]| [first, &nulls[..]].concat();
            b.row(
                InvalidArgument,
                with(&[Kind(2)]),
                "unknown codebook, all NULL",
            );
            for bad in [0, 16, 48, 8192] {
                b.row(
                    InvalidArgument,
                    with(&[Size(bad)]),
                    "bad block size, all NULL",
                );
            }
            b.row(EmptyInput, with(&[Empty, Size(64)]), "n = 0, all NULL");
            out.push(b.done());
        }
        for (func, ft, tname) in halves(
            Func::DequantizeCodebookBlocks,
            Func::DequantizeCodebookBlocksInto,
        ) {
            let (n, bs): (usize, usize) = (70, 32);
            let blocks = n.div_ceil(bs);
            let mut b = Builder::new(
                func,
                format!("{func:?} {cname}{tname}"),
                params(cb, ft, n, bs),
                vec![
                    buf("codes", 1, n.div_ceil(2), true, false),
                    buf("absmax", 4, blocks, true, false),
                    buf("dst", 0, n, false, true),
                ],
                OK,
            );
            b.fill("absmax", f32_bytes(&vec![1.5; blocks]));
            if func == Func::DequantizeCodebookBlocksInto {
                b.fault(
                    Phase::InvalidArgument,
                    Change::FloatType(3),
                    "unknown float type",
                );
            }
            b.fault(Phase::InvalidArgument, Change::Kind(2), "unknown codebook")
                .fault(Phase::InvalidArgument, Change::Size(16), "block size 16")
                .common(4)
                .misalign(&["absmax", "dst"])
                .short(&["codes", "absmax"])
                .overlap("codes", "dst")
                .overlap("absmax", "dst")
                .bad("absmax", 4, (NAN_F32, 4), NON_FINITE, "NaN absmax");
            // formerly tests/codebook_abi.rs
            b.row(Phase::InvalidArgument, vec![Change::Kind(7)], "codebook 7")
                .row(
                    Phase::InvalidArgument,
                    vec![Change::Size(33)],
                    "block size 33",
                );
            out.push(b.done());
        }
    }

    // --- error statistics --------------------------------------------------------------------
    let stats_size = std::mem::size_of::<quantize::stats::ErrorStats>();
    for (func, ft, tname) in halves(Func::MeasureError, Func::MeasureErrorFrom) {
        let n = 6;
        let mut b = Builder::new(
            func,
            format!("{func:?}{tname}"),
            params(0, ft, n, 0),
            vec![
                buf("original", 0, n, false, false),
                buf("restored", 0, n, false, false),
                scalar("stats", stats_size, 8),
            ],
            EMPTY_INPUT,
        );
        b.fill("original", signal(n, ft))
            .fill("restored", signal(n, ft));
        if func == Func::MeasureErrorFrom {
            b.fault(
                Phase::InvalidArgument,
                Change::FloatType(3),
                "unknown float type",
            );
        }
        b.common(4)
            .misalign(&["original", "restored", "stats"])
            .overlap("stats", "original")
            .overlap("stats", "restored")
            .bad("restored", float_size(ft), nan_of(ft), NON_FINITE, "NaN");
        out.push(b.done());
    }
    out
}
