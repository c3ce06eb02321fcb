//! Bytes taken from the core and not yet accepted by the transport, and the loop that
//! writes them: vectored writes of up to [`MAX_IOV`] slices, refilled from the core while
//! less than a batch is queued, and a flush once everything is written.
//!
//! One owner for this logic whoever writes: the driver during the handshake (on the whole
//! stream) and [`Writer`](crate::writer::Writer) once connected (on the write half, from
//! the driver or a requesting task).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures_io::AsyncWrite;

/// Bytes taken from the core per refill. Taken bytes count as handed to the transport: if
/// it dies they are lost like bytes in the kernel's buffer, so this stays small; publishes
/// not yet taken move to the reconnect buffer instead.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;
/// Slices per vectored write.
const MAX_IOV: usize = 64;

/// How a round of writing ended.
#[derive(Debug)]
pub(crate) enum WriteOutcome {
    /// Everything queued was written and flushed.
    Done,
    /// The transport would block; the context's waker is registered with it.
    Blocked,
    /// The transport failed.
    Failed(io::Error),
}

#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    chunks: VecDeque<Bytes>,
    queued: usize,
    needs_flush: bool,
    /// Written chunks no longer shared, for the core to reuse
    /// ([`Connection::recycle_outbound`](nats_proto::Connection::recycle_outbound)).
    spares: Vec<BytesMut>,
}

impl WriteQueue {
    /// Forgets everything (the transport is gone).
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.queued = 0;
        self.needs_flush = false;
    }

    /// Takes what is queued and not written, in order (the transport failed).
    pub(crate) fn take_unwritten(&mut self) -> Vec<Bytes> {
        self.queued = 0;
        self.needs_flush = false;
        self.chunks.drain(..).collect()
    }

    /// Whether everything queued was written and flushed.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && !self.needs_flush
    }

    /// Bytes queued, not yet accepted by the transport.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Written chunks no longer shared, to give back to the core.
    pub(crate) fn take_spares(&mut self) -> impl Iterator<Item = BytesMut> + '_ {
        self.spares.drain(..)
    }

    /// Queues chunks from `take` (called with the room left) up to a batch.
    pub(crate) fn fill(&mut self, mut take: impl FnMut(usize) -> Option<Bytes>) {
        while self.queued < WRITE_BATCH {
            let Some(chunk) = take(WRITE_BATCH - self.queued) else { break };
            self.queued += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Writes to `sink` until nothing is left or it would block, calling `refill` whenever
    /// the queue is empty (it may [`fill`](Self::fill) it). Returns whether
    /// any byte was written, and how the round ended.
    pub(crate) fn write_to<W: AsyncWrite + ?Sized>(
        &mut self,
        mut sink: Pin<&mut W>,
        cx: &mut Context<'_>,
        mut refill: impl FnMut(&mut Self),
    ) -> (bool, WriteOutcome) {
        let mut wrote = false;
        loop {
            // Refill only once everything taken is written: taking after every write
            // would take the few bytes encoded meanwhile, so many small slices and (where
            // vectored writes are not) a system call each.
            if self.chunks.is_empty() {
                refill(self);
            }
            if self.chunks.is_empty() {
                break;
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let count = self.chunks.iter().zip(slices.iter_mut()).map(|(b, s)| *s = IoSlice::new(b)).count();
            match sink.as_mut().poll_write_vectored(cx, &slices[..count]) {
                Poll::Pending => return (wrote, WriteOutcome::Blocked),
                Poll::Ready(Ok(0)) => {
                    let error =
                        io::Error::new(io::ErrorKind::WriteZero, "the transport accepts no more bytes");
                    return (wrote, WriteOutcome::Failed(error));
                }
                Poll::Ready(Ok(n)) => {
                    wrote = true;
                    self.needs_flush = true;
                    self.consume(n);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return (wrote, WriteOutcome::Failed(e)),
            }
        }
        if self.needs_flush {
            match sink.poll_flush(cx) {
                Poll::Pending => return (wrote, WriteOutcome::Blocked),
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return (wrote, WriteOutcome::Failed(e)),
            }
        }
        (wrote, WriteOutcome::Done)
    }

    fn consume(&mut self, mut n: usize) {
        self.queued -= n;
        while n > 0 {
            let front = self.chunks.front_mut().expect("written bytes were queued");
            if n >= front.len() {
                n -= front.len();
                let written = self.chunks.pop_front().expect("the front chunk");
                if self.spares.len() < nats_proto::SPARE_BLOCKS {
                    self.spares.extend(written.try_into_mut().ok());
                }
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    /// Accepts up to `room` bytes per write, then blocks once; records everything.
    struct Sink {
        written: Vec<u8>,
        room: usize,
        block_next: bool,
        flushes: usize,
    }

    impl AsyncWrite for Sink {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            if std::mem::take(&mut self.block_next) {
                return Poll::Pending;
            }
            let n = buf.len().min(self.room);
            self.written.extend_from_slice(&buf[..n]);
            self.block_next = true;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            if std::mem::take(&mut self.block_next) {
                return Poll::Pending;
            }
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.room - n);
                self.written.extend_from_slice(&buf[..take]);
                n += take;
            }
            self.block_next = true;
            Poll::Ready(Ok(n))
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn partial_writes_keep_order_and_refill_happens_when_empty() {
        let mut source: VecDeque<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 100])).collect();
        let mut queue = WriteQueue::default();
        let mut sink = Sink { written: Vec::new(), room: 150, block_next: false, flushes: 0 };
        let mut cx = Context::from_waker(Waker::noop());
        let mut rounds = 0;
        loop {
            rounds += 1;
            let (wrote, outcome) =
                queue.write_to(Pin::new(&mut sink), &mut cx, |q| q.fill(|_| source.pop_front()));
            assert!(wrote);
            match outcome {
                WriteOutcome::Blocked => continue,
                WriteOutcome::Done => break,
                WriteOutcome::Failed(e) => panic!("{e}"),
            }
        }
        let expected: Vec<u8> = (0..10u8).flat_map(|i| vec![i; 100]).collect();
        assert_eq!(sink.written, expected, "every byte once, in order");
        assert_eq!(rounds, 7, "150 bytes per round");
        assert_eq!(sink.flushes, 1);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn written_chunks_no_longer_shared_are_kept_for_reuse() {
        let shared = Bytes::from(vec![1u8; 100]);
        let kept = shared.clone();
        let mut source: VecDeque<Bytes> = [shared, Bytes::from(vec![2u8; 100])].into();
        let mut queue = WriteQueue::default();
        let mut sink = Sink { written: Vec::new(), room: 1000, block_next: false, flushes: 0 };
        let mut cx = Context::from_waker(Waker::noop());
        let (_, outcome) = queue.write_to(Pin::new(&mut sink), &mut cx, |q| q.fill(|_| source.pop_front()));
        assert!(matches!(outcome, WriteOutcome::Done));
        let spares: Vec<BytesMut> = queue.take_spares().collect();
        assert_eq!(spares.len(), 1, "the first is still shared: not taken");
        assert_eq!(&spares[0][..], &[2u8; 100][..], "the second was the last handle of its bytes");
        drop(kept);
    }

    #[test]
    fn a_zero_write_is_a_failure() {
        let mut queue = WriteQueue::default();
        queue.fill({
            let mut once = Some(Bytes::from_static(b"PING\r\n"));
            move |_| once.take()
        });
        let mut sink = Sink { written: Vec::new(), room: 0, block_next: false, flushes: 0 };
        let mut cx = Context::from_waker(Waker::noop());
        let (wrote, outcome) = queue.write_to(Pin::new(&mut sink), &mut cx, |_| {});
        assert!(!wrote);
        assert!(matches!(outcome, WriteOutcome::Failed(e) if e.kind() == io::ErrorKind::WriteZero));
    }
}
