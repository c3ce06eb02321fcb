//! The write side of a connected transport, shared by the driver and the tasks that send
//! requests and flushes: whoever holds it writes (write-through), so a request reaches the
//! socket from the requesting task without waking the driver.
//!
//! Lock order: the writer, then the shared state ([`Shared::lock`]); never the other way
//! round. Writing happens with the writer held and the shared state free, so publishers
//! keep encoding meanwhile. Bytes are taken from the core only for the transport the core
//! still calls current ([`Connection::is_transport_open`](nats_proto::Connection)), so a
//! transport given up by the core never receives bytes that belong in the reconnect
//! buffer, and the core's count of what was handed to the transport stays exact.
//!
//! The waker registered with the transport when it would block is always the driver's:
//! a requesting task writes and returns, and the driver finishes what is left.

use std::io;
use std::pin::Pin;
use std::task::Context;

use futures_io::AsyncWrite;
use nats_proto::TransportId;

use crate::shared::{Shared, HIGH_WATER};
use crate::write_queue::{WriteOutcome, WriteQueue};

type Half = Pin<Box<dyn AsyncWrite + Send>>;

#[derive(Default)]
pub(crate) struct Writer {
    sink: Option<(TransportId, Half)>,
    queue: WriteQueue,
    /// The write half failed: the driver reports it to the core.
    failed: Option<(TransportId, io::Error)>,
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

    /// Drops the write half and what was queued for it (the transport is gone).
    pub(crate) fn detach(&mut self) {
        self.sink = None;
        self.queue.clear();
    }

    /// The failure of the write half, for the driver to report.
    pub(crate) fn take_failure(&mut self) -> Option<(TransportId, io::Error)> {
        self.failed.take()
    }

    /// Writes what the core has queued until nothing is left, the transport would block, or
    /// one batch ([`WRITE_BATCH`](crate::write_queue::WRITE_BATCH)) was taken and written:
    /// then [`Pumped::More`], and the driver reads before it writes the next batch, so a
    /// stream of publishes never holds up reading.
    ///
    /// `cx` must carry the driver's waker (see the module docs). Takes the shared state's
    /// lock to refill, never while writing.
    pub(crate) fn pump(&mut self, shared: &Shared, cx: &mut Context<'_>) -> Pumped {
        let Some((transport, half)) = &mut self.sink else { return Pumped::Idle };
        let transport = *transport;
        let mut gone = false;
        let mut refills = 0;
        let mut more = false;
        let (wrote, outcome) = self.queue.write_to(half.as_mut(), cx, |queue| {
            let mut inner = shared.lock();
            if !inner.conn.is_transport_open(transport) {
                gone = true;
                return;
            }
            if refills == 1 {
                // Bytes held back by publish pacing wait for an answer to be read, not for
                // the driver's next round.
                more = inner.conn.writable_len() > 0;
                return;
            }
            refills += 1;
            for block in queue.take_spares() {
                inner.conn.recycle_outbound(block);
            }
            queue.fill(|max| inner.conn.take_outbound(max));
            if inner.conn.outbound().len() < HIGH_WATER / 2 {
                inner.wake_writers();
            }
        });
        if gone {
            self.detach();
            return Pumped::Failed;
        }
        match outcome {
            WriteOutcome::Failed(error) => {
                self.detach();
                self.failed = Some((transport, error));
                Pumped::Failed
            }
            WriteOutcome::Done if more => Pumped::More,
            WriteOutcome::Done | WriteOutcome::Blocked if wrote => Pumped::Wrote,
            WriteOutcome::Done | WriteOutcome::Blocked => Pumped::Idle,
        }
    }
}
