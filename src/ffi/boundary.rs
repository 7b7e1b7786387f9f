//! The panic boundary: no unwind may cross into C.

use super::{quantize_status, QUANTIZE_ERR_INTERNAL, QUANTIZE_OK};
use crate::Result;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs the body of an exported function and turns its outcome into a status code. A panic (a
/// bug) becomes `QUANTIZE_ERR_INTERNAL`.
pub(crate) fn run(body: impl FnOnce() -> Result<()>) -> quantize_status {
    // AssertUnwindSafe: after a panic we only report the status; no state the body touched is
    // looked at again (the library keeps no mutable global state).
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => QUANTIZE_OK,
        Ok(Err(e)) => e.status(),
        Err(payload) => {
            // Dropping the payload runs arbitrary code that could itself panic.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            QUANTIZE_ERR_INTERNAL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn a_panic_becomes_internal() {
        assert_eq!(run(|| panic!("simulated bug")), QUANTIZE_ERR_INTERNAL);
        let index_bug = || -> Result<()> {
            let v: Vec<u8> = Vec::new();
            let i = v.len() + 3;
            Err(if v[i] == 0 {
                Error::Length
            } else {
                Error::Overlap
            })
        };
        assert_eq!(run(index_bug), QUANTIZE_ERR_INTERNAL);
    }

    #[test]
    fn a_panicking_payload_drop_is_contained() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("panic while dropping the payload");
            }
        }
        assert_eq!(run(|| std::panic::panic_any(Bomb)), QUANTIZE_ERR_INTERNAL);
    }

    #[test]
    fn results_map_to_their_status() {
        assert_eq!(run(|| Ok(())), QUANTIZE_OK);
        for e in Error::ALL {
            assert_eq!(run(|| Err(e)), e.status());
        }
    }
}
