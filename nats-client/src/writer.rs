//! The write side of a connected transport, shared by the driver and the tasks that send
//! requests and flushes: whoever holds it writes (write-through), so a request reaches the
//! socket from the requesting task without waking the driver.
//!
//! The writer sees the rest of the client through one narrow interface, [`Outbox`]: what
//! the core holds for the transport, taken in batches. The shared state implements it
//! (under its lock); the tests below, with an in-memory transport.
//!
//! Lock order: the writer, then the shared state ([`Shared::lock`](crate::shared::Shared::lock));
//! never the other way round. Writing happens with the writer held and the shared state
//! free, so publishers keep encoding meanwhile. Bytes are taken from the core only for the transport the core
//! still calls current ([`Connection::is_transport_open`](nats_proto::Connection)), so a
//! transport given up by the core never receives bytes that belong in the reconnect
//! buffer, and the core's count of what was handed to the transport stays exact.
//!
//! The waker registered with the transport when it would block is always the driver's:
//! a requesting task writes and returns, and the driver finishes what is left.

use std::io;
use std::pin::Pin;
use std::task::Context;

use bytes::Bytes;
use futures_io::AsyncWrite;
use nats_proto::TransportId;

use crate::write_queue::{WriteOutcome, WriteQueue};

type Half = Pin<Box<dyn AsyncWrite + Send>>;

/// Where a [`Writer`] refills from: the core's outbound bytes for a transport.
pub(crate) trait Outbox {
    /// Moves the next batch of what the core holds for `transport` into `queue` (giving
    /// back `queue`'s spare blocks first); `false`, and nothing moved, when the core no
    /// longer calls `transport` open.
    fn refill(&self, transport: TransportId, queue: &mut WriteQueue) -> bool;

    /// Whether the core holds more for `transport` that may be written now (publish
    /// pacing may hold bytes back); `None` when the core no longer calls it open.
    fn has_more(&self, transport: TransportId) -> Option<bool>;
}

#[derive(Default)]
pub(crate) struct Writer {
    sink: Option<(TransportId, Half)>,
    queue: WriteQueue,
    /// The write half failed: the driver reports it to the core, with what it took from
    /// the core and could not write.
    failed: Option<(TransportId, io::Error, Vec<Bytes>)>,
}

/// What a [`Writer::pump`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pumped {
    /// Nothing attached, or nothing to write.
    Idle,
    /// Bytes were written; nothing is left, or the transport would block (the driver is
    /// woken when it can take more).
    Wrote,
    /// A batch was written and the core holds more: the driver writes it after it has read
    /// (see [`pump`](Writer::pump)).
    More,
    /// The transport failed, or the core gave it up: the driver must look.
    Failed,
}

impl Writer {
    /// Attaches the write half of `transport` (connected, its handshake done).
    pub(crate) fn attach(&mut self, transport: TransportId, half: Half) {
        self.sink = Some((transport, half));
        self.queue.clear();
        self.failed = None;
    }

    /// Drops the write half (the transport is gone); returns what was queued for it and
    /// not written, for the core to carry over ([`Connection::handle_unwritten`]).
    ///
    /// [`Connection::handle_unwritten`]: nats_proto::Connection::handle_unwritten
    pub(crate) fn detach(&mut self) -> Vec<Bytes> {
        self.sink = None;
        // A failure not yet reported holds what its write left: that comes first.
        let mut unwritten = self.failed.as_mut().map(|(_, _, u)| std::mem::take(u)).unwrap_or_default();
        unwritten.extend(self.queue.take_unwritten());
        unwritten
    }

    /// The failure of the write half, for the driver to report: the transport, the error,
    /// and what was taken for it and not written.
    pub(crate) fn take_failure(&mut self) -> Option<(TransportId, io::Error, Vec<Bytes>)> {
        self.failed.take()
    }

    /// Writes what the core has queued until nothing is left, the transport would block, or
    /// one batch ([`WRITE_BATCH`](crate::write_queue::WRITE_BATCH)) was taken and written:
    /// then [`Pumped::More`], and the driver reads before it writes the next batch, so a
    /// stream of publishes never holds up reading.
    ///
    /// `cx` must carry the driver's waker (see the module docs). Refills from `outbox`
    /// (which takes the shared state's lock), never while writing.
    pub(crate) fn pump(&mut self, outbox: &impl Outbox, cx: &mut Context<'_>) -> Pumped {
        let Some((transport, half)) = &mut self.sink else { return Pumped::Idle };
        let transport = *transport;
        let mut gone = false;
        let mut refilled = false;
        let mut more = false;
        let (wrote, outcome) = self.queue.write_to(half.as_mut(), cx, |queue| {
            if refilled {
                // One batch per pump. Bytes held back by publish pacing wait for an answer
                // to be read, not for the driver's next round.
                match outbox.has_more(transport) {
                    Some(has_more) => more = has_more,
                    None => gone = true,
                }
                return;
            }
            refilled = true;
            gone = !outbox.refill(transport, queue);
        });
        if gone {
            // The core gave the transport up and settled what it had handed out.
            self.detach();
            return Pumped::Failed;
        }
        match outcome {
            WriteOutcome::Failed(error) => {
                let unwritten = self.detach();
                self.failed = Some((transport, error, unwritten));
                Pumped::Failed
            }
            WriteOutcome::Done if more => Pumped::More,
            WriteOutcome::Done | WriteOutcome::Blocked if wrote => Pumped::Wrote,
            WriteOutcome::Done | WriteOutcome::Blocked => Pumped::Idle,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The writer on an in-memory transport and a scripted outbox: no core, no runtime.

    use std::collections::VecDeque;
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    use bytes::Bytes;
    use futures_io::AsyncWrite;
    use nats_proto::TransportId;

    use super::{Outbox, Pumped, Writer};
    use crate::testing::transport_id as transport;
    use crate::write_queue::{WriteQueue, WRITE_BATCH};

    /// What the core would hold: chunks handed out up to the room asked for.
    #[derive(Default)]
    struct Scripted {
        chunks: Mutex<VecDeque<Bytes>>,
        closed: Mutex<bool>,
        refills: Mutex<usize>,
    }

    impl Scripted {
        fn holding(chunks: &[&[u8]]) -> Self {
            let chunks = chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect();
            Self { chunks: Mutex::new(chunks), ..Self::default() }
        }
    }

    impl Outbox for Scripted {
        fn refill(&self, _: TransportId, queue: &mut WriteQueue) -> bool {
            if *self.closed.lock().unwrap() {
                return false;
            }
            *self.refills.lock().unwrap() += 1;
            let mut chunks = self.chunks.lock().unwrap();
            queue.fill(|room| {
                let front = chunks.front_mut()?;
                Some(if front.len() <= room { chunks.pop_front()? } else { front.split_to(room) })
            });
            true
        }

        fn has_more(&self, _: TransportId) -> Option<bool> {
            (!*self.closed.lock().unwrap()).then(|| !self.chunks.lock().unwrap().is_empty())
        }
    }

    /// An in-memory transport: takes up to `room` bytes, then would block (until given
    /// more room); or fails.
    #[derive(Clone, Default)]
    struct Pipe(Arc<Mutex<PipeState>>);

    #[derive(Default)]
    struct PipeState {
        written: Vec<u8>,
        room: usize,
        fail: Option<io::ErrorKind>,
        waker: Option<Waker>,
        flushes: usize,
    }

    impl Pipe {
        fn with_room(room: usize) -> Self {
            let pipe = Self::default();
            pipe.0.lock().unwrap().room = room;
            pipe
        }

        fn written(&self) -> Vec<u8> {
            self.0.lock().unwrap().written.clone()
        }
    }

    impl AsyncWrite for Pipe {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            let mut state = self.0.lock().unwrap();
            if let Some(kind) = state.fail {
                return Poll::Ready(Err(kind.into()));
            }
            let n = buf.len().min(state.room);
            if n == 0 {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            state.room -= n;
            state.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.0.lock().unwrap().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn pump(writer: &mut Writer, outbox: &Scripted) -> Pumped {
        writer.pump(outbox, &mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn nothing_attached_or_nothing_queued_is_idle() {
        let outbox = Scripted::holding(&[b"PING\r\n"]);
        assert_eq!(pump(&mut Writer::default(), &outbox), Pumped::Idle);
        let mut writer = Writer::default();
        writer.attach(transport(), Box::pin(Pipe::with_room(1024)));
        assert_eq!(pump(&mut writer, &Scripted::default()), Pumped::Idle);
    }

    #[test]
    fn writes_what_the_core_holds_in_order_and_flushes() {
        let pipe = Pipe::with_room(1024);
        let outbox = Scripted::holding(&[b"SUB a 1\r\n", b"PUB a 2\r\nhi\r\n"]);
        let mut writer = Writer::default();
        writer.attach(transport(), Box::pin(pipe.clone()));
        assert_eq!(pump(&mut writer, &outbox), Pumped::Wrote);
        assert_eq!(pipe.written(), b"SUB a 1\r\nPUB a 2\r\nhi\r\n");
        assert_eq!(pipe.0.lock().unwrap().flushes, 1, "written bytes are flushed");
        assert_eq!(pump(&mut writer, &outbox), Pumped::Idle, "nothing left");
    }

    #[test]
    fn a_transport_that_would_block_keeps_the_rest_for_the_next_pump() {
        let pipe = Pipe::with_room(5);
        let outbox = Scripted::holding(&[b"0123456789"]);
        let mut writer = Writer::default();
        writer.attach(transport(), Box::pin(pipe.clone()));
        assert_eq!(pump(&mut writer, &outbox), Pumped::Wrote);
        assert_eq!(pipe.written(), b"01234");
        assert!(pipe.0.lock().unwrap().waker.is_some(), "the transport has the caller's waker");
        pipe.0.lock().unwrap().room = 100;
        assert_eq!(pump(&mut writer, &outbox), Pumped::Wrote);
        assert_eq!(pipe.written(), b"0123456789", "no byte lost or repeated");
        assert_eq!(*outbox.refills.lock().unwrap(), 2, "the queued rest was written before refilling");
    }

    #[test]
    fn one_batch_per_pump_then_more() {
        let pipe = Pipe::with_room(usize::MAX);
        let big = vec![b'x'; WRITE_BATCH + 10];
        let outbox = Scripted::holding(&[&big]);
        let mut writer = Writer::default();
        writer.attach(transport(), Box::pin(pipe.clone()));
        assert_eq!(pump(&mut writer, &outbox), Pumped::More, "a batch taken, more held by the core");
        assert_eq!(pipe.written().len(), WRITE_BATCH);
        assert_eq!(pump(&mut writer, &outbox), Pumped::Wrote);
        assert_eq!(pipe.written().len(), WRITE_BATCH + 10);
    }

    #[test]
    fn a_transport_the_core_gave_up_is_detached() {
        let pipe = Pipe::with_room(1024);
        let outbox = Scripted::holding(&[b"PUB a 1\r\nx\r\n"]);
        *outbox.closed.lock().unwrap() = true;
        let mut writer = Writer::default();
        writer.attach(transport(), Box::pin(pipe.clone()));
        assert_eq!(pump(&mut writer, &outbox), Pumped::Failed);
        assert!(pipe.written().is_empty(), "no byte of the reconnect buffer reaches a dead transport");
        assert!(writer.take_failure().is_none(), "the core knows: nothing to report");
        *outbox.closed.lock().unwrap() = false;
        assert_eq!(pump(&mut writer, &outbox), Pumped::Idle, "detached");
    }

    #[test]
    fn a_write_error_is_kept_for_the_driver_with_what_was_not_written_and_the_half_dropped() {
        let pipe = Pipe::with_room(1024);
        pipe.0.lock().unwrap().fail = Some(io::ErrorKind::ConnectionReset);
        let outbox = Scripted::holding(&[b"PING\r\n", b"PUB a 1\r\nx\r\n"]);
        let transport = transport();
        let mut writer = Writer::default();
        writer.attach(transport, Box::pin(pipe.clone()));
        assert_eq!(pump(&mut writer, &outbox), Pumped::Failed);
        let (failed, error, unwritten) = writer.take_failure().expect("a failure to report");
        assert_eq!((failed, error.kind()), (transport, io::ErrorKind::ConnectionReset));
        let unwritten: Vec<u8> = unwritten.concat();
        assert_eq!(unwritten, b"PING\r\nPUB a 1\r\nx\r\n", "every byte taken, for the core to carry over");
        assert_eq!(pump(&mut writer, &outbox), Pumped::Idle, "detached");
    }
}
