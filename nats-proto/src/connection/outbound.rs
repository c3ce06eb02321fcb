//! Outbound: the write queue of the current transport, the accounting of the publishes in
//! it, and the reconnect buffer that holds publishes while there is no connection.
//!
//! A publish made while connected goes to the write queue and is tracked by its absolute
//! offsets; when the connection is lost, the publishes not yet started on the wire move to
//! the reconnect buffer (one partly written is lost with the connection, like bytes in the
//! kernel's buffer). A publish made while disconnected goes to the reconnect buffer, up to
//! its limit; after the next handshake the buffer is appended to the write queue.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::{headers::HeaderMap, out_buffer::OutBuffer};

#[derive(Debug)]
pub(crate) struct Outbound {
    /// The write queue of the current transport.
    out: OutBuffer,
    /// Bytes of `out` written since the transport opened.
    written: u64,
    /// Absolute offsets of publishes in `out` not yet completely written, and of those in
    /// the chunks of the last `take`s (kept until the next one: the writer may give them
    /// back unwritten, [`unwrite`](Self::unwrite)).
    pub_frames: VecDeque<(u64, u64)>,
    /// Whether the last change was a `take`: the next `take` continues the same batch.
    /// Any other change ends the batch, and the next `take` starts a new one; a writer
    /// takes again only once it wrote everything taken before.
    taking: bool,
    reconnect_buf: OutBuffer,
    /// The length of each publish in `reconnect_buf`.
    reconnect_frames: VecDeque<usize>,
    reconnect_limit: usize,
}

/// A publish the reconnect buffer has no room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferFull;

impl Outbound {
    pub(crate) fn new(reconnect_limit: usize) -> Self {
        Self {
            out: OutBuffer::new(),
            written: 0,
            pub_frames: VecDeque::new(),
            taking: false,
            reconnect_buf: OutBuffer::new(),
            reconnect_frames: VecDeque::new(),
            reconnect_limit,
        }
    }

    /// The write queue, to encode control ops into (they are not tracked).
    pub(crate) fn queue(&mut self) -> &mut OutBuffer {
        self.taking = false;
        &mut self.out
    }

    /// The write queue, to write from.
    pub(crate) fn pending(&self) -> &OutBuffer {
        &self.out
    }

    /// The configured size of the reconnect buffer.
    pub(crate) fn reconnect_limit(&self) -> usize {
        self.reconnect_limit
    }

    /// Bytes in the reconnect buffer.
    pub(crate) fn buffered_len(&self) -> usize {
        self.reconnect_buf.len()
    }

    /// A new transport: the write queue starts empty.
    pub(crate) fn reset_queue(&mut self) {
        self.out.clear();
        self.written = 0;
        self.pub_frames.clear();
        self.taking = false;
    }

    /// Queues a publish on the live transport; returns its encoded length.
    pub(crate) fn publish_live(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> usize {
        let (start, queued) = (self.end(), self.out.len());
        self.out.write_pub_raw(subject, reply, headers, payload);
        let len = self.out.len() - queued;
        self.pub_frames.push_back((start, start + len as u64));
        self.taking = false;
        len
    }

    /// Bytes written since the transport opened.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Where the queue ends: bytes written and queued since the transport opened.
    pub(crate) fn end(&self) -> u64 {
        self.written + self.out.len() as u64
    }

    /// Buffers a publish until the next connection; `header_len` and `size` as computed by
    /// the caller (the encoded header block, and headers plus payload).
    pub(crate) fn publish_buffered(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<(&HeaderMap, usize)>,
        payload: &Bytes,
    ) -> Result<(), BufferFull> {
        let header_len = headers.map(|(_, len)| len);
        let size = header_len.unwrap_or(0) + payload.len();
        let frame = pub_frame_len(subject.len(), reply.map(str::len), header_len, size);
        if self.reconnect_buf.len() + frame > self.reconnect_limit {
            return Err(BufferFull);
        }
        let before = self.reconnect_buf.len();
        self.reconnect_buf.write_pub_raw(subject, reply, headers.map(|(h, _)| h), payload);
        debug_assert_eq!(self.reconnect_buf.len() - before, frame);
        self.reconnect_frames.push_back(frame);
        Ok(())
    }

    /// `n` bytes of the write queue were written.
    ///
    /// # Panics
    /// If `n` is more than the queue holds.
    pub(crate) fn advance(&mut self, n: usize) {
        bytes::Buf::advance(&mut self.out, n);
        self.account_written(n);
    }

    /// Takes up to `max` bytes of the write queue as one chunk, counted as written. The
    /// first `take` of a batch settles the one before: all of it was written.
    pub(crate) fn take(&mut self, max: usize) -> Option<Bytes> {
        if !self.taking {
            self.taking = true;
            self.drop_written_frames();
        }
        let chunk = self.out.split_front(max)?;
        self.written += chunk.len() as u64;
        Some(chunk)
    }

    /// The end of what the last `take`s handed out, in order, was not written: it goes
    /// back to the front of the write queue, so that the publishes in it that had not
    /// started on the wire move to the reconnect buffer with the transport's loss. Ignored
    /// if it is more than was handed out.
    pub(crate) fn unwrite(&mut self, chunks: Vec<Bytes>) {
        let n: usize = chunks.iter().map(Bytes::len).sum();
        if n as u64 > self.written {
            return;
        }
        for chunk in chunks.into_iter().rev() {
            self.out.prepend(chunk);
        }
        self.written -= n as u64;
        self.taking = false;
    }

    /// A written chunk no longer shared, given back for reuse ([`OutBuffer::recycle`]).
    pub(crate) fn recycle(&mut self, block: bytes::BytesMut) {
        self.out.recycle(block);
    }

    fn account_written(&mut self, n: usize) {
        self.written += n as u64;
        self.drop_written_frames();
        self.taking = false;
    }

    fn drop_written_frames(&mut self) {
        while self.pub_frames.front().is_some_and(|&(_, end)| end <= self.written) {
            self.pub_frames.pop_front();
        }
    }

    /// The transport is gone: publishes not yet started on the wire move to the reconnect
    /// buffer, the rest of the queue is dropped.
    pub(crate) fn carry_unwritten(&mut self) {
        debug_assert!(self.reconnect_buf.is_empty());
        self.taking = false;
        for &(start, end) in &self.pub_frames {
            if start < self.written {
                continue;
            }
            // Offsets of bytes still in `out`: they fit in a usize.
            let offset = |at: u64| usize::try_from(at - self.written).expect("an offset within `out`");
            let (from, to) = (offset(start), offset(end));
            self.out.copy_range_into(from, to, &mut self.reconnect_buf);
            self.reconnect_frames.push_back(to - from);
        }
        self.pub_frames.clear();
        self.out.clear();
    }

    /// After a handshake: the buffered publishes go to the write queue, tracked as if just
    /// published. `mark_after` is asked after each publish whether a PING follows it
    /// (publish pacing); returns where each such PING ends.
    pub(crate) fn release_buffered(&mut self, mut mark_after: impl FnMut(usize) -> bool) -> Vec<u64> {
        self.taking = false;
        let mut marks = Vec::new();
        let mut at = self.end();
        // Bytes of the reconnect buffer released but not yet moved.
        let mut unmoved = 0;
        for len in self.reconnect_frames.drain(..) {
            self.pub_frames.push_back((at, at + len as u64));
            at += len as u64;
            unmoved += len;
            if mark_after(len) {
                while unmoved > 0 {
                    let chunk = self.reconnect_buf.split_front(unmoved).expect("released bytes are buffered");
                    unmoved -= chunk.len();
                    self.out.put_payload(&chunk);
                }
                self.out.write_ping();
                at = self.written + self.out.len() as u64;
                marks.push(at);
            }
        }
        self.out.append(&mut self.reconnect_buf);
        marks
    }

    /// Closed for good: the reconnect buffer is dropped.
    pub(crate) fn drop_buffered(&mut self) {
        self.reconnect_buf.clear();
        self.reconnect_frames.clear();
    }
}

/// The encoded length of `PUB <subject> [reply] <size>\r\n<payload>\r\n`, or of `HPUB`
/// when there is a header block of `header_len` bytes (`size` counts headers and payload).
fn pub_frame_len(
    subject_len: usize,
    reply_len: Option<usize>,
    header_len: Option<usize>,
    size: usize,
) -> usize {
    let digits = |n: usize| n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let op = if header_len.is_some() { "HPUB " } else { "PUB " };
    op.len()
        + subject_len
        + 1
        + reply_len.map_or(0, |r| r + 1)
        + header_len.map_or(0, |h| digits(h) + 1)
        + digits(size)
        + 2
        + size
        + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(outbound: &mut Outbound, subject: &str) {
        outbound.publish_live(subject, None, None, &Bytes::from_static(b"p"));
    }

    #[test]
    fn unwritten_publishes_move_to_the_reconnect_buffer() {
        let mut outbound = Outbound::new(1024);
        publish(&mut outbound, "a"); // PUB a 1\r\np\r\n: 12 bytes
        outbound.queue().write_ping(); // PING\r\n: not a publish
        publish(&mut outbound, "b");
        publish(&mut outbound, "c");
        assert_eq!(outbound.pending().len(), 12 * 3 + 6);
        // "a" and the PING are written, "b" is half written, "c" is untouched.
        outbound.advance(12 + 6 + 5);
        outbound.carry_unwritten();
        assert_eq!(outbound.pending().len(), 0);
        assert_eq!(outbound.buffered_len(), 12);
        outbound.reset_queue();
        outbound.queue().write_ping();
        assert_eq!(outbound.release_buffered(|_| false), Vec::<u64>::new());
        assert_eq!(outbound.pending().to_vec(), b"PING\r\nPUB c 1\r\np\r\n");
        assert_eq!(outbound.buffered_len(), 0);
        // Released publishes are tracked again: lost again, they are carried again.
        outbound.advance(6);
        outbound.carry_unwritten();
        assert_eq!(outbound.buffered_len(), 12);
    }

    #[test]
    fn taken_bytes_count_as_written() {
        let mut outbound = Outbound::new(1024);
        publish(&mut outbound, "a");
        publish(&mut outbound, "b");
        assert_eq!(outbound.take(12).map(|b| b.len()), Some(12));
        outbound.carry_unwritten();
        assert_eq!(outbound.buffered_len(), 12, "only b is carried");
    }

    #[test]
    fn the_reconnect_buffer_has_a_limit() {
        let mut outbound = Outbound::new(30);
        let payload = Bytes::from_static(b"p");
        assert_eq!(outbound.publish_buffered("a", None, None, &payload), Ok(()));
        assert_eq!(outbound.publish_buffered("b", Some("r"), None, &payload), Ok(()));
        assert_eq!(outbound.buffered_len(), 12 + 14);
        assert_eq!(outbound.publish_buffered("c", None, None, &payload), Err(BufferFull));
        outbound.drop_buffered();
        assert_eq!(outbound.buffered_len(), 0);
    }

    #[test]
    fn frame_lengths_match_the_encoder() {
        let mut headers = HeaderMap::new();
        headers.insert(crate::HeaderName::new("A").unwrap(), crate::HeaderValue::new("b").unwrap());
        let header_len = headers.encoded_len();
        for (reply, headers, payload) in [
            (None, None, &b""[..]),
            (Some("reply.to"), None, &b"0123456789"[..]),
            (Some("r"), Some(&headers), &[7u8; 1000][..]),
        ] {
            let mut out = OutBuffer::new();
            out.write_pub_raw("subj", reply, headers, &Bytes::copy_from_slice(payload));
            let size = headers.map_or(0, |_| header_len) + payload.len();
            let len = pub_frame_len(4, reply.map(str::len), headers.map(|_| header_len), size);
            assert_eq!(len, out.len());
        }
    }
}
