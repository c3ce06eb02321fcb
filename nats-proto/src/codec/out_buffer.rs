//! The outbound buffer: encoded ops waiting to be written, as a `bytes::Buf` of chunks.

use crate::prelude::*;

use alloc::collections::VecDeque;
use core::fmt;
#[cfg(feature = "std")]
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The size of the blocks small writes are copied into.
const BLOCK: usize = 64 * 1024;

/// Room a block must have left for the next op; with less, a recycled block takes over.
const ROOM: usize = 4 * 1024;
/// Recycled blocks kept at most: a writer's batch spans about four blocks (256 KiB).
pub const SPARES: usize = 4;

/// Payloads at least this large are queued as their own chunk instead of being copied.
pub const DEFAULT_CHUNK_THRESHOLD: usize = 16 * 1024;

/// Encoded ops waiting to be written: small ops are copied into one growing tail buffer
/// (no allocation per op once it has grown: its space is reused after every drain), and
/// payloads of at least [`chunk_threshold`](Self::chunk_threshold) bytes are queued as
/// their own `Bytes` chunk, so a vectored write sends them without a copy.
///
/// It implements [`Buf`]: write `chunks_vectored` (with the `std` feature; or
/// [`chunk`](Buf::chunk)) to the transport, then [`advance`](Buf::advance) by what was
/// written.
///
/// `Debug` shows sizes only, never the bytes: a pending `CONNECT` holds credentials.
pub struct OutBuffer {
    /// Frozen chunks that come before `tail`.
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    chunks_len: usize,
    /// Where small writes go.
    tail: BytesMut,
    /// Written blocks given back by the writer ([`recycle`](Self::recycle)): the next
    /// blocks for small writes, instead of fresh allocations. At most [`SPARES`].
    spares: Vec<BytesMut>,
    chunk_threshold: usize,
}

impl fmt::Debug for OutBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutBuffer")
            .field("len", &self.len())
            .field("chunks", &self.chunk_count())
            .field("chunk_threshold", &self.chunk_threshold)
            .finish_non_exhaustive()
    }
}

impl Default for OutBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl OutBuffer {
    /// An empty buffer with the default chunk threshold.
    pub fn new() -> Self {
        Self::with_chunk_threshold(DEFAULT_CHUNK_THRESHOLD)
    }

    /// An empty buffer that queues payloads of `threshold` bytes or more as chunks.
    pub fn with_chunk_threshold(threshold: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            chunks_len: 0,
            // A 64 KiB block, below the allocator's mmap threshold: when the written front is
            // split off, later blocks get this size too and are reused from the heap instead
            // of being mapped and unmapped (page faults) on every refill.
            tail: BytesMut::with_capacity(BLOCK),
            spares: Vec::new(),
            chunk_threshold: threshold,
        }
    }

    /// The chunk threshold.
    pub fn chunk_threshold(&self) -> usize {
        self.chunk_threshold
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.chunks_len + self.tail.len()
    }

    /// Whether nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops everything not yet written.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.chunks_len = 0;
        self.tail.clear();
    }

    /// Appends a payload: copied when small, queued as its own chunk when large.
    #[inline]
    pub fn put_payload(&mut self, payload: &Bytes) {
        if payload.len() >= self.chunk_threshold {
            self.freeze_tail();
            self.chunks_len += payload.len();
            self.chunks.push_back(payload.clone());
        } else {
            self.tail.put_slice(payload);
        }
    }

    /// Removes up to `max` bytes from the front as one chunk, without copying: a queued
    /// payload chunk (or its front part), or the front of the tail. `None` when empty.
    pub fn split_front(&mut self, max: usize) -> Option<Bytes> {
        if max == 0 {
            return None;
        }
        if let Some(front) = self.chunks.front_mut() {
            let chunk = if front.len() <= max {
                self.chunks.pop_front().expect("a front chunk")
            } else {
                front.split_to(max)
            };
            self.chunks_len -= chunk.len();
            return Some(chunk);
        }
        if self.tail.is_empty() {
            return None;
        }
        let n = max.min(self.tail.len());
        Some(self.tail.split_to(n).freeze())
    }

    /// Puts `bytes` back in front of everything queued (bytes split off with
    /// [`split_front`](Self::split_front) and not written after all).
    pub fn prepend(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.chunks_len += bytes.len();
            self.chunks.push_front(bytes);
        }
    }

    /// Moves everything in `other` to the end of this buffer, without copying payloads.
    pub fn append(&mut self, other: &mut OutBuffer) {
        if other.is_empty() {
            return;
        }
        self.freeze_tail();
        self.chunks_len += other.len();
        self.chunks.append(&mut other.chunks);
        if !other.tail.is_empty() {
            self.chunks.push_back(other.tail.split().freeze());
        }
        other.chunks_len = 0;
    }

    /// Copies the bytes at `start..end` (offsets from the first unwritten byte) to the end
    /// of `dst`.
    ///
    /// # Panics
    /// If the range is out of bounds.
    pub fn copy_range_into(&self, start: usize, end: usize, dst: &mut OutBuffer) {
        assert!(start <= end && end <= self.len(), "range out of bounds");
        let mut offset = 0;
        for chunk in self.chunks.iter().map(|c| &c[..]).chain(core::iter::once(&self.tail[..])) {
            let (chunk_start, chunk_end) = (offset, offset + chunk.len());
            offset = chunk_end;
            if chunk_end <= start || chunk_start >= end {
                continue;
            }
            let from = start.max(chunk_start) - chunk_start;
            let to = end.min(chunk_end) - chunk_start;
            dst.tail.put_slice(&chunk[from..to]);
        }
    }

    fn freeze_tail(&mut self) {
        if !self.tail.is_empty() {
            let head = self.tail.split().freeze();
            self.chunks_len += head.len();
            self.chunks.push_back(head);
        }
    }

    /// The buffer small writes go to. Once it holds a block's worth, it is queued as a
    /// chunk and writing goes on in a fresh block: no allocation grows past about one block,
    /// so a backlog never turns into large allocations that the allocator maps and unmaps.
    /// The fresh block is a recycled one when the writer gave one back. Call it at the start
    /// of an op (the rest of the op may use [`tail_cont`](Self::tail_cont)).
    #[inline]
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        let (len, room) = (self.tail.len(), self.tail.capacity() - self.tail.len());
        if len >= BLOCK || (room < ROOM && !self.spares.is_empty()) {
            self.next_block();
        }
        &mut self.tail
    }

    /// [`tail`](Self::tail) for the rest of an op whose start took it: a block is queued
    /// once full, without looking for a recycled one (the start did).
    #[inline]
    pub(crate) fn tail_cont(&mut self) -> &mut BytesMut {
        if self.tail.len() >= BLOCK {
            self.freeze_tail();
        }
        &mut self.tail
    }

    /// Queues the tail as a chunk once it holds a block, and writes on in a recycled block
    /// when one is kept and the tail is short of room (else `BytesMut` finds room itself).
    #[cold]
    #[inline(never)]
    fn next_block(&mut self) {
        if self.tail.len() >= BLOCK {
            self.freeze_tail();
        }
        if self.tail.capacity() - self.tail.len() < ROOM {
            if let Some(spare) = self.spares.pop() {
                self.freeze_tail();
                self.tail = spare;
            }
        }
    }

    /// Gives back a chunk that was written to the transport and is no longer shared (its
    /// [`Bytes::try_into_mut`] succeeded), so that its allocation holds later small writes
    /// instead of being freed on the writer's thread and a new block allocated here. Kept
    /// if fewer than [`SPARES`] are kept and its allocation has a block's room; dropped
    /// otherwise.
    pub fn recycle(&mut self, mut block: BytesMut) {
        if self.spares.len() == SPARES {
            return;
        }
        block.clear();
        if block.try_reclaim(BLOCK) {
            self.spares.push(block);
        }
    }

    /// Copies everything into one `Vec` (tests and diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for chunk in &self.chunks {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&self.tail);
        out
    }

    /// How many chunks a vectored write would need (tests and diagnostics).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len() + usize::from(!self.tail.is_empty())
    }
}

impl Buf for OutBuffer {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        match self.chunks.front() {
            Some(chunk) => chunk,
            None => &self.tail,
        }
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.len(), "advance past the end of the OutBuffer");
        while cnt > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.tail.advance(cnt);
                return;
            };
            if cnt >= front.len() {
                cnt -= front.len();
                self.chunks_len -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(cnt);
                self.chunks_len -= cnt;
                return;
            }
        }
    }

    #[cfg(feature = "std")]
    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for chunk in self.chunks.iter().map(|c| &c[..]).chain(core::iter::once(&self.tail[..])) {
            if n == dst.len() {
                break;
            }
            if !chunk.is_empty() {
                dst[n] = IoSlice::new(chunk);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payloads_are_copied_large_ones_chunked() {
        let mut out = OutBuffer::with_chunk_threshold(4);
        out.tail().put_slice(b"PUB a 3\r\n");
        out.put_payload(&Bytes::from_static(b"abc"));
        out.tail().put_slice(b"\r\nPUB b 5\r\n");
        out.put_payload(&Bytes::from_static(b"large"));
        out.tail().put_slice(b"\r\n");
        assert_eq!(out.to_vec(), b"PUB a 3\r\nabc\r\nPUB b 5\r\nlarge\r\n");
        assert_eq!(out.chunk_count(), 3);
        let mut slices = [IoSlice::new(&[]); 8];
        let n = out.chunks_vectored(&mut slices);
        assert_eq!(n, 3);
        assert_eq!(&*slices[1], b"large");
    }

    #[test]
    fn split_front_takes_chunks_in_order() {
        let mut out = OutBuffer::with_chunk_threshold(4);
        out.tail().put_slice(b"ab");
        out.put_payload(&Bytes::from_static(b"cdefgh"));
        out.tail().put_slice(b"ij");
        let mut taken = Vec::new();
        while let Some(chunk) = out.split_front(4) {
            assert!(chunk.len() <= 4);
            taken.extend_from_slice(&chunk);
        }
        assert_eq!(taken, b"abcdefghij");
        assert!(out.is_empty());
        assert_eq!(out.split_front(4), None);
    }

    #[test]
    fn append_and_copy_ranges() {
        let mut a = OutBuffer::with_chunk_threshold(4);
        a.tail().put_slice(b"ab");
        a.put_payload(&Bytes::from_static(b"cdef"));
        a.tail().put_slice(b"gh");
        let mut b = OutBuffer::new();
        b.tail().put_slice(b"12");
        b.append(&mut a);
        assert!(a.is_empty());
        assert_eq!(b.to_vec(), b"12abcdefgh");
        assert_eq!(b.len(), 10);
        let mut c = OutBuffer::new();
        for (start, end) in [(0, 10), (1, 4), (3, 9), (5, 5)] {
            c.clear();
            b.copy_range_into(start, end, &mut c);
            assert_eq!(c.to_vec(), &b"12abcdefgh"[start..end], "{start}..{end}");
        }
        b.advance(3);
        c.clear();
        b.copy_range_into(0, 2, &mut c);
        assert_eq!(c.to_vec(), b"bc");
    }

    #[test]
    fn advance_across_chunks() {
        let mut out = OutBuffer::with_chunk_threshold(2);
        out.tail().put_slice(b"ab");
        out.put_payload(&Bytes::from_static(b"cdef"));
        out.tail().put_slice(b"gh");
        let mut read = Vec::new();
        while out.has_remaining() {
            let take = out.chunk().len().min(3);
            read.extend_from_slice(&out.chunk()[..take]);
            out.advance(take);
        }
        assert_eq!(read, b"abcdefgh");
        assert!(out.is_empty());
        assert_eq!(out.chunk_count(), 0);
    }

    #[test]
    fn a_recycled_block_takes_over_when_the_tail_is_full() {
        let mut out = OutBuffer::new();
        let mut written = Vec::new();
        // Fill a block, take it as the writer does, and keep the chunks (being written).
        while out.tail.capacity() - out.tail.len() >= 1000 {
            out.tail().put_slice(&[b'x'; 1000]);
        }
        while let Some(chunk) = out.split_front(16 * 1024) {
            written.push(chunk);
        }
        let first = written[0].as_ptr() as usize;
        // The next write needs a new block: the first is still being written.
        out.tail().put_slice(&[b'y'; 1000]);
        assert!(!(first..first + BLOCK).contains(&(out.tail.as_ptr() as usize)), "a new block");
        // Written: the last handle goes back as a block.
        let mut blocks = written.into_iter().filter_map(|chunk| chunk.try_into_mut().ok());
        out.recycle(blocks.next().expect("the last handle of the first block"));
        assert_eq!(out.spares.len(), 1);
        while out.tail.capacity() - out.tail.len() >= ROOM {
            out.tail().put_slice(&[b'z'; 1000]);
        }
        let before = out.len();
        out.tail().put_slice(b"w");
        let now = out.tail.as_ptr() as usize;
        assert!((first..first + BLOCK).contains(&now), "the recycled block holds the next write");
        assert_eq!(out.len(), before + 1, "nothing lost in the switch");
        assert!(out.to_vec().ends_with(b"zw"));
    }

    #[test]
    fn blocks_too_small_are_not_kept() {
        let mut out = OutBuffer::new();
        out.recycle(BytesMut::with_capacity(100));
        assert!(out.spares.is_empty());
    }

    #[test]
    fn tail_space_is_reused_after_drain() {
        let mut out = OutBuffer::new();
        out.tail().put_slice(&[b'x'; 1000]);
        out.advance(1000);
        let start = out.tail.as_ptr() as usize - 1000;
        let capacity = out.tail.capacity() + 1000;
        for _ in 0..100 {
            out.tail().put_slice(&[b'x'; 1000]);
            out.advance(1000);
        }
        out.tail().put_slice(b"y");
        let now = out.tail.as_ptr() as usize;
        assert!((start..start + capacity).contains(&now), "the tail allocation was not reused");
        assert_eq!(out.to_vec(), b"y");
    }
}
