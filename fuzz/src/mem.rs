//! Buffers the way a C caller has them: raw allocations of exactly the size the caller owns (so
//! AddressSanitizer sees any access past them), optionally misaligned, NULL, or placed so that
//! two of them overlap.

use crate::draw::Draw;
use std::alloc::{alloc, dealloc, Layout};

/// What a call's parameter list says about one buffer.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Bytes per element (float 4, int8/uint8 1, the stats struct 48).
    pub elem: usize,
    /// Alignment the type needs (docs/contract.md §4.4: float 4, the stats struct its own,
    /// bytes 1).
    pub align: usize,
    /// The length passed to the function, in elements; for a buffer without a length parameter
    /// the element count the function takes it to have (n, or 1 for a scalar out-pointer).
    pub stated: usize,
    /// Elements really allocated (>= stated: lying about lengths is the caller's UB).
    pub cap: usize,
    /// Bytes added to a 64-aligned address.
    pub misalign: usize,
    /// Pass NULL instead of the allocation.
    pub null: bool,
    /// Whether the function writes it.
    pub written: bool,
}

impl Spec {
    /// An input or output array. `len_param`: whether the function has a length parameter for
    /// it (then `stated` may differ from `need`); otherwise it holds exactly `need` elements.
    pub fn draw(
        d: &mut Draw,
        elem: usize,
        align: usize,
        need: usize,
        len_param: bool,
        written: bool,
    ) -> Spec {
        let stated = if len_param {
            match d.byte() % 16 {
                0..=8 => need,
                9 | 10 => need + d.range(1, 8),
                11 | 12 => need.saturating_sub(d.range(1, 3)),
                13 => 0,
                14 => d.range(0, need + 8),
                _ => need.saturating_sub(1),
            }
        } else {
            need
        };
        let null = d.chance(10);
        let stated = if null && len_param && d.chance(160) {
            0
        } else {
            stated
        };
        Spec {
            elem,
            align,
            stated,
            cap: if null {
                0
            } else {
                stated + if d.chance(128) { 0 } else { d.range(1, 4) }
            },
            misalign: draw_misalign(d, align),
            null,
            written,
        }
    }

    /// A scalar out-pointer (scale, zero point, stats struct): never NULL in valid use.
    pub fn scalar_out(d: &mut Draw, elem: usize, align: usize) -> Spec {
        Spec {
            elem,
            align,
            stated: 1,
            cap: 1,
            misalign: draw_misalign(d, align),
            null: d.chance(8),
            written: true,
        }
    }
}

fn draw_misalign(d: &mut Draw, align: usize) -> usize {
    if d.chance(20) {
        // Off by 1..=3 (or any amount under a larger alignment); byte buffers too, where any
        // address is fine.
        d.range(1, align.max(4) - 1)
    } else {
        0
    }
}

struct Alloc {
    ptr: *mut u8,
    layout: Layout,
}

/// The buffers of one call.
pub struct Mem {
    pub specs: Vec<Spec>,
    allocs: Vec<Alloc>,
    /// (allocation, byte offset) of each buffer.
    place: Vec<(usize, usize)>,
}

impl Mem {
    /// Allocates `specs`. With `overlap = Some((guest, host, delta))`, buffer `guest` is placed
    /// `delta` bytes from the start of buffer `host`, in the same allocation. Every byte gets a
    /// sentinel value derived from `sentinel`.
    pub fn new(specs: Vec<Spec>, overlap: Option<(usize, usize, isize)>, sentinel: u8) -> Mem {
        let mut allocs = Vec::new();
        let mut place = vec![(usize::MAX, 0); specs.len()];
        let mut make = |size: usize| {
            let layout = Layout::from_size_align(size.max(1), 64).expect("layout");
            // SAFETY: the size is non-zero.
            let ptr = unsafe { alloc(layout) };
            assert!(!ptr.is_null(), "allocation failed");
            allocs.push(Alloc { ptr, layout });
            allocs.len() - 1
        };
        let bytes = |s: &Spec| s.cap * s.elem;
        if let Some((guest, host, delta)) = overlap {
            let (g, h) = (&specs[guest], &specs[host]);
            let lo = delta.min(0).unsigned_abs();
            let host_off = h.misalign + lo;
            let guest_off = (host_off as isize + delta) as usize;
            let size = (host_off + bytes(h)).max(guest_off + bytes(g));
            let a = make(size);
            place[host] = (a, host_off);
            place[guest] = (a, guest_off);
        }
        for (i, s) in specs.iter().enumerate() {
            if place[i].0 == usize::MAX {
                let a = make(s.misalign + bytes(s));
                place[i] = (a, s.misalign);
            }
        }
        let m = Mem {
            specs,
            allocs,
            place,
        };
        // A pattern with period 256 (so no byte value is missing), shifted per allocation.
        let pattern: [u8; 256] = core::array::from_fn(|j| sentinel ^ (j as u8).wrapping_mul(0x9D));
        for (k, a) in m.allocs.iter().enumerate() {
            let mut j = 0;
            while j < a.layout.size() {
                let take = (a.layout.size() - j).min(256 - k % 256);
                // SAFETY: j + take <= size of the allocation; the pattern has 256 - k % 256
                // bytes from k % 256 on.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        pattern.as_ptr().add(k % 256),
                        a.ptr.add(j),
                        take,
                    )
                };
                j += take;
            }
        }
        m
    }

    /// The pointer passed for buffer `i` (NULL if its spec says so).
    pub fn ptr(&self, i: usize) -> *mut u8 {
        if self.specs[i].null {
            core::ptr::null_mut()
        } else {
            self.real_ptr(i)
        }
    }

    fn real_ptr(&self, i: usize) -> *mut u8 {
        let (a, off) = self.place[i];
        // SAFETY: the offset lies within (or at the end of) the allocation.
        unsafe { self.allocs[a].ptr.add(off) }
    }

    /// The address passed for buffer `i`, as an integer (0 for NULL).
    pub fn addr(&self, i: usize) -> usize {
        self.ptr(i) as usize
    }

    /// The bytes of buffer `i`'s allocation region (its `cap` elements).
    pub fn bytes(&self, i: usize) -> Vec<u8> {
        let n = self.specs[i].cap * self.specs[i].elem;
        let mut v = vec![0u8; n];
        // SAFETY: the region lies within the allocation; byte copies need no alignment.
        unsafe { core::ptr::copy_nonoverlapping(self.real_ptr(i), v.as_mut_ptr(), n) };
        v
    }

    /// Writes `data` at the start of buffer `i` (at most its `cap` elements' bytes).
    pub fn fill(&self, i: usize, data: &[u8]) {
        let n = (self.specs[i].cap * self.specs[i].elem).min(data.len());
        // SAFETY: as in `bytes`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.real_ptr(i), n) };
    }

    pub fn f32s(&self, i: usize, count: usize) -> Vec<f32> {
        let b = self.bytes(i);
        b.chunks_exact(4)
            .take(count)
            .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    pub fn i8s(&self, i: usize, count: usize) -> Vec<i8> {
        self.bytes(i).iter().take(count).map(|&b| b as i8).collect()
    }

    pub fn fill_f32s(&self, i: usize, v: &[f32]) {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
        self.fill(i, &b);
    }

    /// Every allocation's bytes, with their start addresses.
    pub fn snapshot(&self) -> Snapshot {
        self.allocs
            .iter()
            .map(|a| {
                let mut v = vec![0u8; a.layout.size()];
                // SAFETY: the whole allocation.
                unsafe { core::ptr::copy_nonoverlapping(a.ptr, v.as_mut_ptr(), v.len()) };
                (a.ptr as usize, v)
            })
            .collect()
    }

    /// Puts back every allocation's bytes from a `snapshot()` of this `Mem`.
    pub fn restore(&self, snap: &Snapshot) {
        for (a, (addr, b)) in self.allocs.iter().zip(snap) {
            assert!(
                *addr == a.ptr as usize && b.len() == a.layout.size(),
                "foreign snapshot"
            );
            // SAFETY: the whole allocation, which `b` is as long as.
            unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), a.ptr, b.len()) };
        }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        for a in &self.allocs {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(a.ptr, a.layout) };
        }
    }
}

/// Every allocation of a [`Mem`]: start address and bytes.
pub type Snapshot = Vec<(usize, Vec<u8>)>;

/// Byte range `[start, end)` a function may have written.
pub type Region = (usize, usize);

/// Asserts that every byte that changed between `before` and `after` lies in one of `allowed`.
pub fn assert_only_changed(
    before: &[(usize, Vec<u8>)],
    after: &[(usize, Vec<u8>)],
    allowed: &[Region],
    what: &str,
) {
    for ((addr, b), (_, a)) in before.iter().zip(after) {
        if a == b {
            continue; // one memcmp: the common case
        }
        // Compare the stretches outside every allowed region, a slice at a time.
        let mut cuts: Vec<(usize, usize)> = allowed
            .iter()
            .map(|&(s, e)| {
                (
                    s.clamp(*addr, addr + b.len()) - addr,
                    e.clamp(*addr, addr + b.len()) - addr,
                )
            })
            .filter(|&(s, e)| s < e)
            .collect();
        cuts.sort_unstable();
        let mut from = 0;
        for (s, e) in cuts.into_iter().chain([(b.len(), b.len())]) {
            if from < s && b[from..s] != a[from..s] {
                let j = (from..s).find(|&j| a[j] != b[j]).unwrap_or(from);
                panic!(
                    "{what}: byte {j} of an allocation at {addr:#x} changed ({:#04x} -> {:#04x}) \
                     outside the regions the contract lets this call write: {allowed:x?}",
                    b[j], a[j]
                );
            }
            from = from.max(e);
        }
    }
}

/// Picks an overlap for a call with `count` buffers, of which `candidates` may be moved onto
/// another one: `(guest, host, delta)`.
pub fn draw_overlap(
    d: &mut Draw,
    specs: &[Spec],
    candidates: &[usize],
) -> Option<(usize, usize, isize)> {
    if candidates.is_empty() || !d.chance(40) {
        return None;
    }
    let guest = candidates[d.byte() as usize % candidates.len()];
    let others: Vec<usize> = (0..specs.len()).filter(|&i| i != guest).collect();
    let host = others[d.byte() as usize % others.len()];
    let gb = (specs[guest].cap * specs[guest].elem) as isize;
    let hb = (specs[host].cap * specs[host].elem) as isize;
    // From fully before the host (touching) to fully after it (touching); mostly whole
    // elements apart so alignment often still holds.
    let delta = d.range(0, (gb + hb) as usize) as isize - gb;
    let delta = if d.chance(200) {
        delta - delta.rem_euclid(4)
    } else {
        delta
    };
    Some((guest, host, delta))
}
