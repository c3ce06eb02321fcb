//! Ports for the test servers: below the kernel's ephemeral range, and never the same one
//! twice in a process.
//!
//! Not `-p -1` (a port the server picks from the ephemeral range): a server keeps its
//! ports across restarts, and while it is down the kernel may hand a port of that range
//! to any outgoing connection as its local port; the restart then fails with "address
//! already in use" (a chaos run did). The kernel hands out no port below the range by
//! itself.
//!
//! Never twice: a client that a test leaves behind (a task on smol's or async-std's global
//! executor outlives the test that spawned it) goes on reconnecting to its server's port
//! for minutes; a later test's server on that port would get its connections and answer
//! its requests.

use std::net::TcpListener;
use std::sync::Mutex;

/// The lowest port handed out (or half the range's start, when that is lower).
const FLOOR: u16 = 10_000;

/// The next port to try, shared by every test of the process.
static NEXT: Mutex<Option<u16>> = Mutex::new(None);

/// The ports handed out: from [`FLOOR`] up to the start of the ephemeral range.
fn range() -> (u16, u16) {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    (FLOOR.min(low / 2), low)
}

/// A port on 127.0.0.1 that is free now (bound and released), below the ephemeral range,
/// and not handed out before by this process. Each process starts at a random place in the
/// range, so that test processes running at once (a test in a process of its own, another
/// suite) rarely meet; a server that still finds its port taken fails to start with
/// "address already in use", and [`NatsServer`](crate::NatsServer) tries other ports then.
///
/// # Panics
/// When every port of the range is taken.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let (floor, low) = range();
    let span = low - floor;
    let mut next = NEXT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = *next.get_or_insert_with(|| {
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        floor + u16::try_from(random % u64::from(span)).expect("below the span")
    });
    for i in 0..span {
        let port = floor + (start - floor + i) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            *next = Some(floor + (port - floor + 1) % span);
            return port;
        }
    }
    panic!("no free port between {floor} and {low}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_repeat() {
        let (floor, low) = range();
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        assert!(ports.iter().all(|p| (floor..low).contains(p)), "{ports:?}");
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }
}
