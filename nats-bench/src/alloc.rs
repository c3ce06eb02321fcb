//! A counting global allocator, for allocations per message and bytes retained.
//!
//! A benchmark binary installs it with
//! `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;` and reads
//! [`AllocStats::now`] around the work it measures. The counters are process-wide (every
//! thread), relaxed atomics: exact once the threads it measures are quiet.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations (a `realloc` counts as one) and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

fn count(allocated: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    ALLOCATED.fetch_add(allocated as u64, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract `System` meets holds here; the counting touches only atomics and
// never allocates. Unsafe is needed because `GlobalAlloc` is an unsafe trait; the test
// below allocates through it and checks the counts.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        FREED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The allocator's counters at one moment (all zero unless [`CountingAlloc`] is the global
/// allocator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Allocations (and reallocations) so far.
    pub allocations: u64,
    /// Bytes allocated so far.
    pub allocated: u64,
    /// Bytes freed so far.
    pub freed: u64,
}

impl AllocStats {
    /// The counters now.
    pub fn now() -> Self {
        Self {
            allocations: ALLOCATIONS.load(Ordering::Relaxed),
            allocated: ALLOCATED.load(Ordering::Relaxed),
            freed: FREED.load(Ordering::Relaxed),
        }
    }

    /// What happened between `earlier` and `self`: allocations made, and bytes still held
    /// (allocated minus freed; negative when more was freed).
    pub fn since(&self, earlier: &Self) -> AllocDelta {
        let allocated = self.allocated - earlier.allocated;
        let freed = self.freed - earlier.freed;
        #[allow(clippy::cast_possible_wrap)]
        let retained = allocated as i64 - freed as i64;
        AllocDelta { allocations: self.allocations - earlier.allocations, retained }
    }
}

/// The difference of two [`AllocStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocDelta {
    /// Allocations made.
    pub allocations: u64,
    /// Bytes allocated and not freed.
    pub retained: i64,
}

/// The resident set size of this process, in bytes, from `/proc/self/status` (`None` where
/// that file does not exist).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Voluntary context switches of every thread of this process so far (Linux:
/// `/proc/self/task/*/status`), or `None` elsewhere. A task that waits (a blocked read, a
/// parked runtime worker, a futex) switches voluntarily; the difference over a run counts
/// the thread hops of what ran, whatever the machine's load (preemptions are not counted).
pub fn voluntary_context_switches() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(status) = std::fs::read_to_string(task.ok()?.path().join("status")) else { continue };
        total += switches_in(&status)?;
    }
    Some(total)
}

/// The `voluntary_ctxt_switches` of one thread's `status` file.
fn switches_in(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::{rss_bytes, switches_in, voluntary_context_switches, AllocStats, CountingAlloc};

    /// This thread's count only: the process's sum drops when another test's thread exits.
    fn this_threads_switches() -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").expect("Linux /proc");
        switches_in(&status).expect("a voluntary_ctxt_switches line")
    }

    #[test]
    fn a_blocking_wait_is_a_voluntary_context_switch() {
        let before = this_threads_switches();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(this_threads_switches() > before);
        assert!(voluntary_context_switches().is_some_and(|all| all > 0), "every thread's, summed");
    }

    #[test]
    fn counts_allocations_and_retained_bytes() {
        let before = AllocStats::now();
        let layout = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: a non-zero-sized layout; the pointers are freed with the layout they were
        // allocated (or reallocated) with.
        unsafe {
            let a = CountingAlloc.alloc(layout);
            assert!(!a.is_null());
            let b = CountingAlloc.realloc(a, layout, 3000);
            assert!(!b.is_null());
            let after_alloc = AllocStats::now().since(&before);
            // Other test threads may allocate meanwhile: at least ours are counted.
            assert!(after_alloc.allocations >= 2, "{after_alloc:?}");
            CountingAlloc.dealloc(b, Layout::from_size_align(3000, 8).unwrap());
        }
        let after = AllocStats::now();
        assert!(after.allocated - before.allocated >= 4000);
        assert!(after.freed - before.freed >= 4000);
    }

    #[test]
    fn reads_the_resident_set_size() {
        assert!(rss_bytes().is_some_and(|rss| rss > 0), "this runs on Linux");
    }
}
