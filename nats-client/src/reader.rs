//! The read side of a connected transport, shared by the driver and the tasks waiting on a
//! request or a flush: whoever holds it reads (read-through), so a reply reaches the task
//! that waits for it with one wake from the reactor and no hop through the driver.
//!
//! Who is woken when the transport has bytes is decided by [`ReadWake`], the one waker
//! ever registered with the read half, whoever polls it:
//! - nobody has claimed reading: the driver is woken and reads, as it always did;
//! - a waiting task has claimed it ([`ReadWake::claim`], one at a time): that task is
//!   woken, reads, and hands what it read to the core (the events it routes wake other
//!   waiters); once its own answer is in, it releases the claim, and the driver is woken
//!   if bytes may have been left unread.
//!
//! A claim whose task was woken but has not read yet (its future kept but no longer
//! polled, say) must not hold up the connection: any other waiter on the connection, and
//! the driver at each of its rounds, takes such a claim away and wakes the driver
//! ([`ReadWake::unstick`]).
//!
//! The reader sees the rest of the client through one narrow interface, [`Inbound`]: where
//! the bytes it reads go (the core, whose events are then routed) and who is woken. The
//! shared state implements it; the tests below, with an in-memory transport. The waiting
//! side of read-through is [`crate::read_through`].
//!
//! Lock order: the reader, then the shared state ([`Shared::lock`](crate::shared::Shared::lock)).
//! The reader and the writer are never held together.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_io::AsyncRead;
use nats_proto::{FlushId, RequestId, TransportId};

use crate::time::Instant;

/// The read buffer (zeroed once).
const READ_CHUNK: usize = 64 * 1024;
/// Reads per [`Reader::read`] from a waiting task.
pub(crate) const READS_PER_POLL: usize = 4;
/// [`Reader::read`]s a waiting task makes in one poll before it lets other tasks run.
pub(crate) const READ_THROUGH_BUDGET: usize = 8;

type Half = Pin<Box<dyn AsyncRead + Send>>;

/// Where a [`Reader`] delivers what it reads, and who it wakes.
pub(crate) trait Inbound {
    /// Hands `bytes`, read from `transport` at `now`, to the core and routes the events
    /// it makes (ignored by the core if it gave `transport` up meanwhile).
    fn deliver(&self, now: Instant, transport: TransportId, bytes: &[u8]);

    /// The read half ended: the driver must be woken to report it to the core.
    fn ended(&self);

    /// The routing of the read side's wakes.
    fn read_wake(&self) -> &ReadWake;

    /// The waker made of [`read_wake`](Self::read_wake), registered with the read half.
    fn read_waker(&self) -> &Waker;
}

/// The read half of the connected transport and the buffer it is read into.
pub(crate) struct Reader {
    source: Option<(TransportId, Half)>,
    buf: Vec<u8>,
    /// The read half ended (`None`) or failed: the driver reports it to the core.
    ended: Option<(TransportId, Option<io::Error>)>,
}

/// How a [`Reader::read`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Nothing attached, or the transport just ended (the driver reports it).
    Idle,
    /// Read until the transport would block: [`ReadWake`] is registered with it. Whether
    /// anything was read.
    Blocked(bool),
    /// Read as many times as allowed; more may be waiting.
    More,
}

impl Default for Reader {
    fn default() -> Self {
        Self { source: None, buf: vec![0; READ_CHUNK], ended: None }
    }
}

impl Reader {
    /// The buffer, for the driver to read the whole stream into during the handshake.
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Attaches the read half of `transport` (connected, its handshake done).
    pub(crate) fn attach(&mut self, transport: TransportId, half: Half) {
        self.source = Some((transport, half));
        self.ended = None;
    }

    /// Drops the read half (the transport is gone).
    pub(crate) fn detach(&mut self) {
        self.source = None;
    }

    /// How the read half ended, for the driver to report.
    pub(crate) fn take_end(&mut self) -> Option<(TransportId, Option<io::Error>)> {
        self.ended.take()
    }

    /// Reads up to `max_reads` times, handing each read to the core and routing its events,
    /// until the transport would block. The waker registered is always [`ReadWake`]'s.
    pub(crate) fn read(&mut self, inbound: &impl Inbound, now: Instant, max_reads: usize) -> Reading {
        let Some((transport, half)) = &mut self.source else { return Reading::Idle };
        let transport = *transport;
        let mut cx = Context::from_waker(inbound.read_waker());
        let mut read = false;
        let mut reads = 0;
        while reads < max_reads {
            inbound.read_wake().reading();
            match half.as_mut().poll_read(&mut cx, &mut self.buf) {
                Poll::Pending => return Reading::Blocked(read),
                Poll::Ready(Ok(0)) => return self.end(inbound, transport, None),
                Poll::Ready(Ok(n)) => {
                    read = true;
                    reads += 1;
                    inbound.deliver(now, transport, &self.buf[..n]);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return self.end(inbound, transport, Some(e)),
            }
        }
        Reading::More
    }

    /// The read half ended: keep how, for the driver, and wake it.
    fn end(&mut self, inbound: &impl Inbound, transport: TransportId, error: Option<io::Error>) -> Reading {
        self.source = None;
        self.ended = Some((transport, error));
        inbound.ended();
        Reading::Idle
    }
}

/// The waker registered with the read half: routes "bytes to read" to the task that has
/// claimed reading, else to the driver (see the module docs).
#[derive(Default)]
pub(crate) struct ReadWake(Mutex<Route>);

#[derive(Default)]
struct Route {
    driver: Option<Waker>,
    claim: Option<Claim>,
}

struct Claim {
    token: Wait,
    waker: Waker,
    /// Woken for bytes it has not read yet.
    fired: bool,
}

impl ReadWake {
    fn route(&self) -> std::sync::MutexGuard<'_, Route> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The driver's waker, woken when no task has claimed reading.
    pub(crate) fn set_driver(&self, waker: &Waker) {
        let mut route = self.route();
        if route.driver.as_ref().is_none_or(|w| !w.will_wake(waker)) {
            route.driver = Some(waker.clone());
        }
    }

    /// Claims reading for the task of `waker` (`token` names its wait). False when another
    /// wait holds the claim.
    pub(crate) fn claim(&self, token: Wait, waker: &Waker) -> bool {
        let mut route = self.route();
        match &mut route.claim {
            Some(claim) if claim.token != token => false,
            Some(claim) => {
                if !claim.waker.will_wake(waker) {
                    claim.waker = waker.clone();
                }
                true
            }
            None => {
                route.claim = Some(Claim { token, waker: waker.clone(), fired: false });
                true
            }
        }
    }

    /// Gives up `token`'s claim, if it still holds it. The driver is woken if bytes may be
    /// waiting: the last read did not end blocked (`unfinished`), or the claimant was woken
    /// since it last read.
    pub(crate) fn release(&self, token: Wait, unfinished: bool) {
        if let Some(waker) = self.take_claim(token, unfinished) {
            waker.wake();
        }
    }

    /// The core ended `token`'s wait (answered, timed out, closed): its claim goes, so that
    /// a wait whose future is kept but no longer polled holds nothing past its deadline.
    /// Returns the driver's waker if the claimant was woken for bytes it has not read.
    pub(crate) fn ended(&self, token: Wait) -> Option<Waker> {
        self.take_claim(token, false)
    }

    fn take_claim(&self, token: Wait, unfinished: bool) -> Option<Waker> {
        let mut route = self.route();
        let fired = route.claim.take_if(|claim| claim.token == token).is_some_and(|claim| claim.fired);
        (unfinished || fired).then(|| route.driver.clone()).flatten()
    }

    /// A read is about to be polled: the claimant's last wake is being served.
    pub(crate) fn reading(&self) {
        if let Some(claim) = &mut self.route().claim {
            claim.fired = false;
        }
    }

    /// Takes away a claim whose task was woken and has not read, and wakes the driver to
    /// read instead. Called by other waiters and by the driver, so that a task that stopped
    /// polling its request never holds up the connection. A claimant that was about to
    /// read finds the driver reading, and waits for its answer like any other waiter.
    pub(crate) fn unstick(&self) {
        let mut route = self.route();
        if !route.claim.as_ref().is_some_and(|claim| claim.fired) {
            return;
        }
        route.claim = None;
        let driver = route.driver.clone();
        drop(route);
        if let Some(waker) = driver {
            waker.wake();
        }
    }

    /// Whether `token` holds the claim.
    #[cfg(test)]
    fn holds(&self, token: Wait) -> bool {
        self.route().claim.as_ref().is_some_and(|claim| claim.token == token)
    }
}

impl Wake for ReadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut route = self.route();
        let waker = match &mut route.claim {
            Some(claim) => {
                claim.fired = true;
                Some(claim.waker.clone())
            }
            None => route.driver.clone(),
        };
        drop(route);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// What a claim is for: a request's replies or a flush's PONG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    Request(RequestId),
    Flush(FlushId),
    /// The core's ids cannot be made outside it.
    #[cfg(test)]
    Test(u64),
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::{ReadWake, Wait};

    fn w(id: u64) -> Wait {
        Wait::Test(id)
    }

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn setup() -> (Arc<ReadWake>, Waker, Arc<Count>, Arc<Count>) {
        let route = Arc::new(ReadWake::default());
        let driver = Arc::new(Count::default());
        route.set_driver(&Waker::from(Arc::clone(&driver)));
        (Arc::clone(&route), Waker::from(route), driver, Arc::new(Count::default()))
    }

    #[test]
    fn without_a_claim_the_driver_is_woken() {
        let (_, read_waker, driver, _) = setup();
        read_waker.wake_by_ref();
        assert_eq!(driver.get(), 1);
    }

    #[test]
    fn a_claim_routes_wakes_to_its_task_only() {
        let (route, read_waker, driver, task) = setup();
        assert!(route.claim(w(1), &Waker::from(Arc::clone(&task))));
        assert!(!route.claim(w(2), &Waker::noop().clone()), "one claim at a time");
        read_waker.wake_by_ref();
        assert_eq!((task.get(), driver.get()), (1, 0));
        // The task reads to blocked and its answer is in: nothing left for the driver.
        route.reading();
        route.release(w(1), false);
        assert_eq!(driver.get(), 0);
        assert!(!route.holds(w(1)));
        read_waker.wake_by_ref();
        assert_eq!((task.get(), driver.get()), (1, 1), "released: the driver reads again");
    }

    #[test]
    fn a_release_with_bytes_maybe_left_wakes_the_driver() {
        let (route, read_waker, driver, task) = setup();
        assert!(route.claim(w(1), &Waker::from(Arc::clone(&task))));
        route.release(w(1), true);
        assert_eq!(driver.get(), 1, "the last read did not block");
        assert!(route.claim(w(2), &Waker::from(Arc::clone(&task))));
        read_waker.wake_by_ref();
        route.release(w(2), false);
        assert_eq!(driver.get(), 2, "woken since the last read: bytes wait");
    }

    #[test]
    fn a_woken_claim_that_does_not_read_is_taken_away() {
        let (route, read_waker, driver, task) = setup();
        assert!(route.claim(w(1), &Waker::from(Arc::clone(&task))));
        route.unstick();
        assert!(route.holds(w(1)), "not woken yet: nothing to take");
        read_waker.wake_by_ref();
        route.unstick();
        assert!(!route.holds(w(1)));
        assert_eq!(driver.get(), 1);
        // Its release later changes nothing.
        route.release(w(1), false);
        assert_eq!(driver.get(), 1);
    }

    #[test]
    fn a_wait_the_core_ended_loses_its_claim() {
        let (route, read_waker, driver, task) = setup();
        assert!(route.claim(w(1), &Waker::from(Arc::clone(&task))));
        assert!(route.ended(w(2)).is_none() && route.holds(w(1)), "another wait's end changes nothing");
        assert!(route.ended(w(1)).is_none(), "not woken since its last read: nothing waits");
        assert!(!route.holds(w(1)));
        read_waker.wake_by_ref();
        assert_eq!((task.get(), driver.get()), (0, 1));
        assert!(route.claim(w(3), &Waker::from(Arc::clone(&task))));
        read_waker.wake_by_ref();
        route.ended(w(3)).expect("woken for bytes it has not read: the driver reads them").wake();
        assert_eq!(driver.get(), 2);
        // A claimant whose read did not block wakes the driver even without its claim.
        route.release(w(3), true);
        assert_eq!(driver.get(), 3);
    }

    #[test]
    fn a_claim_is_renewed_by_its_own_wait() {
        let (route, read_waker, _, task) = setup();
        let other = Arc::new(Count::default());
        assert!(route.claim(w(1), &Waker::from(Arc::clone(&task))));
        assert!(route.claim(w(1), &Waker::from(Arc::clone(&other))), "the same wait, polled from elsewhere");
        read_waker.wake_by_ref();
        assert_eq!((task.get(), other.get()), (0, 1));
    }
}

#[cfg(test)]
mod read_tests {
    //! The reader on an in-memory transport and a recording inbound side: no core, no
    //! runtime.

    use std::collections::VecDeque;
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    use futures_io::AsyncRead;
    use nats_proto::TransportId;

    use super::{Inbound, ReadWake, Reader, Reading};
    use crate::testing::transport_id as transport;
    use crate::time::Instant;

    /// Records what the reader delivers.
    struct Recorder {
        delivered: Mutex<Vec<(TransportId, Vec<u8>)>>,
        ended: Mutex<usize>,
        wake: Arc<ReadWake>,
        waker: Waker,
    }

    impl Recorder {
        fn new() -> Self {
            let wake = Arc::new(ReadWake::default());
            let waker = Waker::from(Arc::clone(&wake));
            Self { delivered: Mutex::default(), ended: Mutex::default(), wake, waker }
        }

        fn bytes(&self) -> Vec<u8> {
            self.delivered.lock().unwrap().iter().flat_map(|(_, b)| b.clone()).collect()
        }
    }

    impl Inbound for Recorder {
        fn deliver(&self, _: Instant, transport: TransportId, bytes: &[u8]) {
            self.delivered.lock().unwrap().push((transport, bytes.to_vec()));
        }

        fn ended(&self) {
            *self.ended.lock().unwrap() += 1;
        }

        fn read_wake(&self) -> &ReadWake {
            &self.wake
        }

        fn read_waker(&self) -> &Waker {
            &self.waker
        }
    }

    /// An in-memory transport: each poll takes the next scripted outcome; `None` is
    /// "would block".
    struct Script(VecDeque<Option<io::Result<Vec<u8>>>>);

    impl AsyncRead for Script {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            match self.0.pop_front() {
                None | Some(None) => Poll::Pending,
                Some(Some(Ok(bytes))) => {
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    Poll::Ready(Ok(bytes.len()))
                }
                Some(Some(Err(e))) => Poll::Ready(Err(e)),
            }
        }
    }

    fn reader_on(script: Vec<Option<io::Result<Vec<u8>>>>) -> (Reader, TransportId) {
        let mut reader = Reader::default();
        let transport = transport();
        reader.attach(transport, Box::pin(Script(script.into())));
        (reader, transport)
    }

    fn chunk(bytes: &[u8]) -> Option<io::Result<Vec<u8>>> {
        Some(Ok(bytes.to_vec()))
    }

    #[test]
    fn reads_until_the_transport_would_block_and_delivers_in_order() {
        let inbound = Recorder::new();
        assert_eq!(Reader::default().read(&inbound, Instant::now(), 4), Reading::Idle, "nothing attached");
        let (mut reader, transport) = reader_on(vec![chunk(b"INFO {}\r\n"), chunk(b"PONG\r\n"), None]);
        assert_eq!(reader.read(&inbound, Instant::now(), 4), Reading::Blocked(true));
        assert_eq!(inbound.bytes(), b"INFO {}\r\nPONG\r\n");
        assert!(inbound.delivered.lock().unwrap().iter().all(|(t, _)| *t == transport));
        assert_eq!(reader.read(&inbound, Instant::now(), 4), Reading::Blocked(false), "nothing new");
    }

    #[test]
    fn stops_after_max_reads_with_more_maybe_waiting() {
        let inbound = Recorder::new();
        let (mut reader, _) = reader_on(vec![chunk(b"a"), chunk(b"b"), chunk(b"c"), None]);
        assert_eq!(reader.read(&inbound, Instant::now(), 2), Reading::More);
        assert_eq!(inbound.bytes(), b"ab");
        assert_eq!(reader.read(&inbound, Instant::now(), 2), Reading::Blocked(true));
        assert_eq!(inbound.bytes(), b"abc");
    }

    #[test]
    fn an_interrupted_read_is_retried() {
        let inbound = Recorder::new();
        let (mut reader, _) =
            reader_on(vec![Some(Err(io::ErrorKind::Interrupted.into())), chunk(b"x"), None]);
        assert_eq!(reader.read(&inbound, Instant::now(), 4), Reading::Blocked(true));
        assert_eq!(inbound.bytes(), b"x");
    }

    #[test]
    fn the_end_of_the_stream_is_kept_for_the_driver_which_is_woken() {
        let inbound = Recorder::new();
        let (mut reader, transport) = reader_on(vec![chunk(b"+OK\r\n"), chunk(b"")]);
        assert_eq!(reader.read(&inbound, Instant::now(), 4), Reading::Idle);
        assert_eq!(inbound.bytes(), b"+OK\r\n", "what came before the end is delivered");
        assert_eq!(*inbound.ended.lock().unwrap(), 1);
        let (ended, error) = reader.take_end().expect("an end to report");
        assert!(ended == transport && error.is_none());
        assert_eq!(reader.read(&inbound, Instant::now(), 4), Reading::Idle, "detached");
    }

    #[test]
    fn a_read_error_is_kept_for_the_driver() {
        let inbound = Recorder::new();
        let (mut reader, _) = reader_on(vec![Some(Err(io::ErrorKind::ConnectionReset.into()))]);
        assert_eq!(reader.read(&inbound, Instant::now(), 4), Reading::Idle);
        let (_, error) = reader.take_end().expect("an end to report");
        assert_eq!(error.map(|e| e.kind()), Some(io::ErrorKind::ConnectionReset));
        assert_eq!(*inbound.ended.lock().unwrap(), 1);
    }
}
