//! State shared by the client handles and the driver task: the protocol core and the
//! queues that route its events to subscribers, requests, flushes and event listeners.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use nats_proto::{Connection, Event, FlushError, FlushId, Msg, RequestId, RequestOutcome, Sid};

use crate::event::ClientEvent;

/// Publishers wait when this many bytes are queued for the socket.
pub(crate) const HIGH_WATER: usize = 8 * 1024 * 1024;

/// Events kept per listener before the oldest are dropped.
const LISTENER_CAPACITY: usize = 1024;

pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            inner: Mutex::new(Inner {
                conn,
                subs: HashMap::new(),
                requests: HashMap::new(),
                flushes: HashMap::new(),
                listeners: HashMap::new(),
                next_listener: 0,
                driver_waker: None,
                write_waiters: Vec::new(),
                state_waiters: Vec::new(),
                driver_done: false,
            }),
        }
    }

    /// Locks the state. A panic while locked cannot leave the protocol core half-updated
    /// in a way that matters more than stopping would, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
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
    pub(crate) replies: VecDeque<Msg>,
    pub(crate) outcome: Option<RequestOutcome>,
    pub(crate) waker: Option<Waker>,
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
    pub(crate) conn: Connection,
    pub(crate) subs: HashMap<Sid, SubSlot>,
    pub(crate) requests: HashMap<RequestId, RequestSlot>,
    pub(crate) flushes: HashMap<FlushId, FlushSlot>,
    pub(crate) listeners: HashMap<u64, Listener>,
    pub(crate) next_listener: u64,
    pub(crate) driver_waker: Option<Waker>,
    /// Publishers waiting for the outbound buffer to drain (backpressure).
    pub(crate) write_waiters: Vec<Waker>,
    /// Tasks waiting for a state change (connected, closed).
    pub(crate) state_waiters: Vec<Waker>,
    /// The driver task has finished: the connection is closed and its transport gone.
    pub(crate) driver_done: bool,
}

impl Inner {
    /// Wakes the driver after a command gave it work; a no-op when it is already awake.
    pub(crate) fn wake_driver(&mut self) {
        if let Some(waker) = self.driver_waker.take() {
            waker.wake();
        }
    }

    pub(crate) fn wake_state_waiters(&mut self) {
        for waker in self.state_waiters.drain(..) {
            waker.wake();
        }
    }

    pub(crate) fn wake_writers(&mut self) {
        for waker in self.write_waiters.drain(..) {
            waker.wake();
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
                        wake(&mut slot.waker);
                    }
                }
                Event::SubscriptionEnded { sid } => {
                    if let Some(slot) = self.subs.get_mut(&sid) {
                        slot.ended = true;
                        wake(&mut slot.waker);
                    }
                }
                Event::Reply { request, msg } => {
                    if let Some(slot) = self.requests.get_mut(&request) {
                        slot.replies.push_back(msg);
                        wake(&mut slot.waker);
                    }
                }
                Event::RequestEnded { request, outcome, .. } => {
                    if let Some(slot) = self.requests.get_mut(&request) {
                        slot.outcome = Some(outcome);
                        wake(&mut slot.waker);
                    }
                }
                Event::Flushed { flush, result } => {
                    if let Some(slot) = self.flushes.get_mut(&flush) {
                        slot.result = Some(result);
                        wake(&mut slot.waker);
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

    fn broadcast(&mut self, event: ClientEvent) {
        crate::log::event(&event);
        for listener in self.listeners.values_mut() {
            if listener.queue.len() == LISTENER_CAPACITY {
                listener.queue.pop_front();
            }
            listener.queue.push_back(event.clone());
            wake(&mut listener.waker);
        }
    }

    /// The connection closed: every subscription ends and every waiter is woken (requests
    /// and flushes already got their own end events from the core).
    fn end_everything(&mut self) {
        for slot in self.subs.values_mut() {
            slot.ended = true;
            wake(&mut slot.waker);
        }
    }
}

pub(crate) fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}
