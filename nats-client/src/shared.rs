//! State shared by the client handles and the driver task: the protocol core and the
//! queues that route its events to subscribers, requests, flushes and event listeners.

use std::collections::{HashMap, VecDeque};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::Waker;

use nats_proto::{Connection, Event, FlushError, FlushId, Msg, RequestId, RequestOutcome, Sid, TransportId};

use crate::event::ClientEvent;
use crate::lock_order::{self, Lock, Ordered};
use crate::reader::{Inbound, ReadWake, Reader, Wait};
use crate::time::Instant;
use crate::wake_list::WakeList;
use crate::write_queue::WriteQueue;
use crate::writer::{Outbox, Writer};

/// Publishers wait when this many bytes are queued for the socket.
pub(crate) const HIGH_WATER: usize = 8 * 1024 * 1024;

/// Events kept per listener before the oldest are dropped.
const LISTENER_CAPACITY: usize = 1024;

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// The write side of the connected transport. Lock order: this, then `inner`.
    writer: Mutex<Writer>,
    /// The read side of the connected transport. Lock order: this, then `inner`; never
    /// held with `writer`.
    reader: Mutex<Reader>,
    /// Routes the read side's wakes ([`crate::reader`]), and the waker made of it.
    read_wake: Arc<ReadWake>,
    read_waker: Waker,
}

impl Shared {
    pub(crate) fn new(conn: Connection<Instant>) -> Self {
        let read_wake = Arc::new(ReadWake::default());
        Self {
            inner: Mutex::new(Inner {
                conn,
                subs: HashMap::new(),
                requests: HashMap::new(),
                flushes: HashMap::new(),
                listeners: HashMap::new(),
                next_listener: 0,
                driver_waker: None,
                driver_deadline: None,
                write_waiters: Vec::new(),
                state_waiters: Vec::new(),
                driver_done: false,
                wakes: WakeList::default(),
                read_wake: Arc::clone(&read_wake),
            }),
            writer: Mutex::new(Writer::default()),
            reader: Mutex::new(Reader::default()),
            read_wake: Arc::clone(&read_wake),
            read_waker: Waker::from(read_wake),
        }
    }

    /// Locks the reader. Never call it with the state or the writer locked (checked in
    /// debug builds: [`crate::lock_order`]).
    pub(crate) fn reader(&self) -> Ordered<MutexGuard<'_, Reader>> {
        lock_order::taking(Lock::Reader);
        Ordered::new(self.reader.lock().unwrap_or_else(PoisonError::into_inner), Lock::Reader)
    }

    /// The reader, unless another task holds it (it then reads and routes what comes).
    pub(crate) fn try_reader(&self) -> Option<Ordered<MutexGuard<'_, Reader>>> {
        lock_order::taking(Lock::Reader);
        let guard = try_lock(&self.reader);
        if guard.is_none() {
            lock_order::released(Lock::Reader);
        }
        guard.map(|guard| Ordered::new(guard, Lock::Reader))
    }

    /// Who is woken when the transport has bytes to read.
    pub(crate) fn read_wake(&self) -> &ReadWake {
        &self.read_wake
    }

    /// Locks the writer. Never call it with the state or the reader locked: the order is
    /// writer first (checked in debug builds).
    pub(crate) fn writer(&self) -> Ordered<MutexGuard<'_, Writer>> {
        lock_order::taking(Lock::Writer);
        Ordered::new(self.writer.lock().unwrap_or_else(PoisonError::into_inner), Lock::Writer)
    }

    /// The writer, unless another task holds it (it then writes what is queued).
    pub(crate) fn try_writer(&self) -> Option<Ordered<MutexGuard<'_, Writer>>> {
        lock_order::taking(Lock::Writer);
        let guard = try_lock(&self.writer);
        if guard.is_none() {
            lock_order::released(Lock::Writer);
        }
        guard.map(|guard| Ordered::new(guard, Lock::Writer))
    }

    /// Locks the state. A panic while locked cannot leave the protocol core half-updated
    /// in a way that matters more than stopping would, so poisoning is ignored. Wakes made
    /// under the lock run when the returned guard is dropped, after unlocking.
    pub(crate) fn lock(&self) -> Guard<'_> {
        lock_order::taking(Lock::State);
        Guard(Some(self.inner.lock().unwrap_or_else(PoisonError::into_inner)))
    }
}

/// The writer refills from the core under the state's lock, and wakes the publishers
/// waiting for room once the core's queue is below half the high-water mark.
impl Outbox for Shared {
    fn refill(&self, transport: TransportId, queue: &mut WriteQueue) -> bool {
        let mut inner = self.lock();
        if !inner.conn.is_transport_open(transport) {
            return false;
        }
        for block in queue.take_spares() {
            inner.conn.recycle_outbound(block);
        }
        queue.fill(|max| inner.conn.take_outbound(max));
        if inner.conn.outbound().len() < HIGH_WATER / 2 {
            inner.wake_writers();
        }
        true
    }

    fn has_more(&self, transport: TransportId) -> Option<bool> {
        let inner = self.lock();
        inner.conn.is_transport_open(transport).then(|| inner.conn.writable_len() > 0)
    }
}

/// The reader delivers into the core under the state's lock and routes its events.
impl Inbound for Shared {
    fn deliver(&self, now: Instant, transport: TransportId, bytes: &[u8]) {
        let mut inner = self.lock();
        let paced = inner.conn.writable_len() < inner.conn.outbound().len();
        // If the core gave this transport up meanwhile, the bytes are ignored.
        inner.conn.handle_input(now, transport, bytes);
        // An answer to a pacing PING lets more be written: by the driver, if this is a
        // task reading through.
        if paced && inner.conn.writable_len() > 0 {
            inner.wake_driver();
        }
    }

    fn ended(&self) {
        self.lock().wake_driver();
    }

    fn read_wake(&self) -> &ReadWake {
        Shared::read_wake(self)
    }

    fn read_waker(&self) -> &Waker {
        &self.read_waker
    }
}

/// `mutex`, unless another task holds it; poisoning is ignored, as everywhere here.
fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// The locked state. Dropping it routes the core's events ([`Inner::dispatch`]: whatever
/// the holder did to the core, no event stays queued), unlocks, then wakes the tasks woken
/// under the lock, so a woken task never finds the lock still held by its waker.
pub(crate) struct Guard<'a>(Option<MutexGuard<'a, Inner>>);

impl Deref for Guard<'_> {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        self.0.as_ref().expect("held until dropped")
    }
}

impl DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let Some(mut guard) = self.0.take() else { return };
        if guard.conn.has_events() {
            guard.dispatch();
        }
        // Debug builds (every test) check the core's invariants whenever a holder is done
        // with it: a violation names itself where it happened.
        #[cfg(debug_assertions)]
        if !std::thread::panicking() {
            if let Err(violation) = guard.conn.check_invariants() {
                panic!("{violation}");
            }
        }
        if guard.wakes.is_empty() {
            drop(guard);
            lock_order::released(Lock::State);
            return;
        }
        let wakes = std::mem::take(&mut guard.wakes);
        drop(guard);
        lock_order::released(Lock::State);
        wakes.wake_all();
    }
}

#[derive(Default)]
pub(crate) struct SubSlot {
    pub(crate) queue: VecDeque<Msg>,
    pub(crate) waker: Option<Waker>,
    /// No more messages will come (auto-unsubscribe reached, drained, closed).
    pub(crate) ended: bool,
}

#[derive(Default)]
pub(crate) struct RequestSlot {
    pub(crate) replies: ReplyQueue,
    pub(crate) outcome: Option<RequestOutcome>,
    pub(crate) waker: Option<Waker>,
}

/// A request's replies not yet taken: the first without an allocation (most requests get
/// one), the others in a queue behind it.
#[derive(Default)]
pub(crate) struct ReplyQueue {
    first: Option<Msg>,
    rest: VecDeque<Msg>,
}

impl ReplyQueue {
    pub(crate) fn push(&mut self, msg: Msg) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(msg);
        } else {
            self.rest.push_back(msg);
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Msg> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

#[derive(Default)]
pub(crate) struct FlushSlot {
    pub(crate) result: Option<Result<(), FlushError>>,
    pub(crate) waker: Option<Waker>,
}

#[derive(Default)]
pub(crate) struct Listener {
    pub(crate) queue: VecDeque<ClientEvent>,
    pub(crate) waker: Option<Waker>,
}

pub(crate) struct Inner {
    pub(crate) conn: Connection<Instant>,
    pub(crate) subs: HashMap<Sid, SubSlot>,
    pub(crate) requests: HashMap<RequestId, RequestSlot>,
    pub(crate) flushes: HashMap<FlushId, FlushSlot>,
    pub(crate) listeners: HashMap<u64, Listener>,
    pub(crate) next_listener: u64,
    pub(crate) driver_waker: Option<Waker>,
    /// When the driver's timer fires: a task waiting on a later deadline of the core's can
    /// count on the driver to run the core's timers in time ([`crate::deadline`]).
    pub(crate) driver_deadline: Option<Instant>,
    /// Publishers waiting for the outbound buffer to drain (backpressure).
    pub(crate) write_waiters: Vec<Waker>,
    /// Tasks waiting for a state change (connected, closed).
    pub(crate) state_waiters: Vec<Waker>,
    /// The driver task has finished: the connection is closed and its transport gone.
    pub(crate) driver_done: bool,
    /// Tasks to wake once the lock is released ([`Guard`]).
    pub(crate) wakes: WakeList,
    /// To end the read-through claim of a wait the core ended ([`ReadWake::ended`]).
    read_wake: Arc<ReadWake>,
}

impl Inner {
    /// Wakes the driver after a command gave it work; a no-op when it is already awake.
    pub(crate) fn wake_driver(&mut self) {
        self.wakes.take_from(&mut self.driver_waker);
    }

    pub(crate) fn wake_state_waiters(&mut self) {
        for waker in self.state_waiters.drain(..) {
            self.wakes.push(waker);
        }
    }

    pub(crate) fn wake_writers(&mut self) {
        for waker in self.write_waiters.drain(..) {
            self.wakes.push(waker);
        }
    }

    pub(crate) fn add_listener(&mut self) -> u64 {
        self.next_listener += 1;
        self.listeners.insert(self.next_listener, Listener::default());
        self.next_listener
    }

    /// Routes every pending event of the core.
    pub(crate) fn dispatch(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Message(msg) => {
                    if let Some(slot) = self.subs.get_mut(&msg.sid) {
                        slot.queue.push_back(msg);
                        self.wakes.take_from(&mut slot.waker);
                    }
                }
                Event::SubscriptionEnded { sid } => {
                    if let Some(slot) = self.subs.get_mut(&sid) {
                        slot.ended = true;
                        self.wakes.take_from(&mut slot.waker);
                    }
                }
                Event::Reply { request, msg } => {
                    if let Some(slot) = self.requests.get_mut(&request) {
                        slot.replies.push(msg);
                        self.wakes.take_from(&mut slot.waker);
                    }
                }
                Event::RequestEnded { request, outcome, .. } => {
                    self.end_claim(Wait::Request(request));
                    if let Some(slot) = self.requests.get_mut(&request) {
                        slot.outcome = Some(outcome);
                        self.wakes.take_from(&mut slot.waker);
                    }
                }
                Event::Flushed { flush, result } => {
                    self.end_claim(Wait::Flush(flush));
                    if let Some(slot) = self.flushes.get_mut(&flush) {
                        slot.result = Some(result);
                        self.wakes.take_from(&mut slot.waker);
                    }
                }
                Event::ServerInfo(_) => {}
                other => {
                    let closed = matches!(other, Event::Closed { .. });
                    let connected = matches!(other, Event::Connected { .. } | Event::Reconnected { .. });
                    if let Some(event) = ClientEvent::from_core(other, &self.conn) {
                        self.broadcast(event);
                    }
                    if closed {
                        self.end_everything();
                    }
                    if closed || connected {
                        self.wake_state_waiters();
                        self.wake_writers();
                    }
                }
            }
        }
    }

    fn end_claim(&mut self, wait: Wait) {
        if let Some(driver) = self.read_wake.ended(wait) {
            self.wakes.push(driver);
        }
    }

    fn broadcast(&mut self, event: ClientEvent) {
        crate::log::event(&event);
        for listener in self.listeners.values_mut() {
            if listener.queue.len() == LISTENER_CAPACITY {
                listener.queue.pop_front();
            }
            listener.queue.push_back(event.clone());
            self.wakes.take_from(&mut listener.waker);
        }
    }

    /// The connection closed: every subscription ends and every waiter is woken (requests
    /// and flushes already got their own end events from the core).
    fn end_everything(&mut self) {
        for slot in self.subs.values_mut() {
            slot.ended = true;
            self.wakes.take_from(&mut slot.waker);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::Instant;

    use nats_proto::Connection;

    use super::{Shared, SubSlot};
    use crate::options::ConnectOptions;

    /// On wake, records whether the shared lock was free.
    struct TryLock(Arc<Shared>, AtomicBool);

    impl Wake for TryLock {
        fn wake(self: Arc<Self>) {
            self.1.store(self.0.inner.try_lock().is_ok(), Ordering::SeqCst);
        }
    }

    #[test]
    fn replies_come_out_in_the_order_they_came_in() {
        let subject = nats_proto::Subject::new("r").expect("a subject");
        let msg =
            |n: u8| nats_proto::Msg::new(subject.clone(), nats_proto::Sid(1), bytes::Bytes::from(vec![n]));
        let mut queue = super::ReplyQueue::default();
        queue.push(msg(1));
        queue.push(msg(2));
        assert_eq!(queue.pop().map(|m| m.payload[0]), Some(1));
        queue.push(msg(3));
        queue.push(msg(4));
        let order: Vec<u8> = std::iter::from_fn(|| queue.pop()).map(|m| m.payload[0]).collect();
        assert_eq!(order, [2, 3, 4]);
        queue.push(msg(5));
        assert_eq!(queue.pop().map(|m| m.payload[0]), Some(5));
        assert!(queue.pop().is_none());
    }

    #[test]
    fn tasks_are_woken_after_the_lock_is_released() {
        let options = ConnectOptions::new().resolve("nats://127.0.0.1:4222").expect("valid options");
        let conn = Connection::new(options.proto.clone(), Instant::now()).expect("valid options");
        let shared = Arc::new(Shared::new(conn));
        let driver = Arc::new(TryLock(Arc::clone(&shared), AtomicBool::new(false)));
        let subscriber = Arc::new(TryLock(Arc::clone(&shared), AtomicBool::new(false)));
        {
            let mut inner = shared.lock();
            inner.driver_waker = Some(Waker::from(Arc::clone(&driver)));
            let sid = nats_proto::Sid::from(7u64);
            inner.subs.insert(
                sid,
                SubSlot { waker: Some(Waker::from(Arc::clone(&subscriber))), ..SubSlot::default() },
            );
            inner.wake_driver();
            let inner = &mut *inner;
            let slot = inner.subs.get_mut(&sid).expect("the slot");
            inner.wakes.take_from(&mut slot.waker);
            assert!(
                !driver.1.load(Ordering::SeqCst) && !subscriber.1.load(Ordering::SeqCst),
                "not yet woken"
            );
        }
        assert!(driver.1.load(Ordering::SeqCst), "the driver was woken with the lock free");
        assert!(subscriber.1.load(Ordering::SeqCst), "the subscriber was woken with the lock free");
    }
}
