//! The status a call must return, from the check order of docs/contract.md §4.6, written
//! independently of the library:
//!
//! 1. invalid parameters; 2. NULL pointers; 3. alignment; 4. LENGTH, then BUFFER_TOO_SMALL;
//! 5. overlap; 6. empty input; 7. the data (decided by each family).
//!
//! The order itself is the table the integration tests use (`tests/common/check_order.rs`,
//! compiled here as [`check_order`]): [`Call::argument_status`] walks it, and this file says
//! only what makes each phase fail.

use crate::mem::{Mem, Region};
use crate::status::*;

/// The contract's check order, shared with the integration tests.
#[path = "../../tests/common/check_order.rs"]
pub mod check_order;
use check_order::{Phase, CHECK_ORDER};

/// One buffer argument as the contract sees it.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    /// The pointer passed (0 for NULL).
    pub addr: usize,
    /// Its stated length in elements (for buffers without a length parameter: what n implies).
    pub stated: usize,
    /// Elements n needs of it (its region for the overlap check; scalar out-pointers: 1).
    pub need: usize,
    /// Bytes per element.
    pub elem: usize,
    /// Required alignment.
    pub align: usize,
    /// Whether the call writes it.
    pub written: bool,
    /// A scalar out-pointer: never NULL, whatever the lengths.
    pub required: bool,
}

impl Arg {
    /// Buffer `i` of `mem`, of which n needs `need` elements.
    pub fn of(mem: &Mem, i: usize, need: usize) -> Arg {
        let s = &mem.specs[i];
        Arg {
            addr: mem.addr(i),
            stated: s.stated,
            need,
            elem: s.elem,
            align: s.align,
            written: s.written,
            required: false,
        }
    }

    /// Scalar out-pointer `i` of `mem`.
    pub fn scalar(mem: &Mem, i: usize) -> Arg {
        Arg {
            required: true,
            ..Arg::of(mem, i, 1)
        }
    }

    /// The bytes n needs of this buffer.
    pub fn region(&self) -> Region {
        let len = self.need.saturating_mul(self.elem);
        (self.addr, self.addr.saturating_add(len))
    }
}

/// What phases 1-6 say about a call.
pub struct Call<'a> {
    /// Phase 1: unknown enum, bad group/block size, n too large.
    pub invalid_params: bool,
    pub args: &'a [Arg],
    /// Phase 4: n not a whole number of blocks.
    pub bad_length: bool,
    /// Phase 6: n == 0. `empty_is_error`: the function returns statistics of the whole input.
    pub empty: bool,
    pub empty_is_error: bool,
}

impl Call<'_> {
    /// The status of the first failing phase among 1-6, or `None` when the data decides.
    pub fn argument_status(&self) -> Option<i32> {
        for (phase, status) in CHECK_ORDER {
            if self.fails(phase) {
                return Some(match phase {
                    Phase::EmptyInput if self.empty_is_error => EMPTY_INPUT,
                    Phase::EmptyInput => OK,
                    _ => status.expect("an argument phase has one status"),
                });
            }
        }
        None
    }

    /// Whether the call fails `phase` (never [`Phase::Data`]: the families decide that).
    fn fails(&self, phase: Phase) -> bool {
        match phase {
            Phase::InvalidArgument => self.invalid_params,
            Phase::NullPointer => self
                .args
                .iter()
                .any(|a| a.addr == 0 && (a.required || a.stated != 0)),
            Phase::Misaligned => self.args.iter().any(|a| !a.addr.is_multiple_of(a.align)),
            Phase::Length => self.bad_length,
            Phase::BufferTooSmall => self.args.iter().any(|a| a.stated < a.need),
            Phase::Overlap => self.args.iter().enumerate().any(|(i, a)| {
                self.args[i + 1..].iter().any(|b| {
                    let (ra, rb) = (a.region(), b.region());
                    // An empty region (n needs nothing of the buffer) shares no byte (§4.5).
                    let empty = ra.0 == ra.1 || rb.0 == rb.1;
                    let shared = !empty && ra.0 < rb.1 && rb.0 < ra.1;
                    shared && (a.written || b.written)
                })
            }),
            Phase::EmptyInput => self.empty,
            Phase::Data => false,
        }
    }
}

/// Per-element validity for the int4 quantizers (§2.8): the status of the first bad element
/// in index order, with its index.
pub fn first_bad_int4(x: &[f32]) -> Option<(usize, i32)> {
    x.iter().enumerate().find_map(|(i, &v)| {
        if v.is_nan() || v.is_infinite() {
            Some((i, NON_FINITE))
        } else if v.abs() > crate::draw::TWO_126 {
            Some((i, VALUE_OUT_OF_RANGE))
        } else {
            None
        }
    })
}

/// Whether an int4 code is valid.
pub fn code_ok(q: i8) -> bool {
    (-8..=7).contains(&q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared table's statuses are the contract's numbers, as `crate::status` writes them.
    #[test]
    fn shared_order_has_the_contract_statuses() {
        let want = [
            (Phase::InvalidArgument, INVALID_ARGUMENT),
            (Phase::NullPointer, NULL_POINTER),
            (Phase::Misaligned, MISALIGNED),
            (Phase::Length, LENGTH),
            (Phase::BufferTooSmall, BUFFER_TOO_SMALL),
            (Phase::Overlap, OVERLAP),
        ];
        for (i, (phase, status)) in want.into_iter().enumerate() {
            assert_eq!(CHECK_ORDER[i], (phase, Some(status)));
        }
        assert_eq!(check_order::EMPTY_INPUT, EMPTY_INPUT);
        assert_eq!(check_order::OK, OK);
    }
}
