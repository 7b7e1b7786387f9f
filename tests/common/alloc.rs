//! A counting global allocator: counts what library calls allocate, per thread, and only inside
//! [`ffi`]. A test binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: common::alloc::CountingAllocator = common::alloc::CountingAllocator;
//! ```
//!
//! and wraps each library call in `ffi(|| ...)`; [`allocations`] and [`bytes`] read the counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct CountingAllocator;

thread_local! {
    static INSIDE_FFI: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
    static FREED: Cell<usize> = const { Cell::new(0) };
}

fn note(counter: &'static std::thread::LocalKey<Cell<usize>>, amount: usize) {
    // try_with: the allocator also runs while thread-locals are being torn down.
    if INSIDE_FFI.try_with(Cell::get).unwrap_or(false) {
        let _ = counter.try_with(|c| c.set(c.get() + amount));
    }
}

// SAFETY: every method forwards to the system allocator unchanged; counting touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCATIONS, 1);
        note(&ALLOCATED, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCATIONS, 1);
        note(&ALLOCATED, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&ALLOCATIONS, 1);
        note(&FREED, layout.size());
        note(&ALLOCATED, new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&FREED, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs one call into the library, counting what it allocates on this thread.
pub fn ffi<R>(call: impl FnOnce() -> R) -> R {
    INSIDE_FFI.with(|c| c.set(true));
    let r = call();
    INSIDE_FFI.with(|c| c.set(false));
    r
}

/// Allocations (alloc, alloc_zeroed, realloc) made inside `ffi(...)` on this thread so far.
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// (allocated, freed) bytes inside `ffi(...)` on this thread so far.
pub fn bytes() -> (usize, usize) {
    (ALLOCATED.with(Cell::get), FREED.with(Cell::get))
}
