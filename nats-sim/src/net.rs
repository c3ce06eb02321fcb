//! The simulated network: connections between client hosts and servers carried as
//! byte queues with a delivery time each. Writes and reads split at any byte, every
//! segment arrives after a random latency (in order), and faults (resets, stalls,
//! partitions, servers that refuse or vanish) are applied by the chaos schedule or a test.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use crate::executor::{lock, Sim};

/// A duration in whole microseconds (for the trace and the random draws).
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Which end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The host that connected (a client).
    Client,
    /// The server that accepted.
    Server,
}

impl Side {
    /// The direction this side writes into.
    fn writes(self) -> usize {
        match self {
            Self::Client => 0,
            Self::Server => 1,
        }
    }

    fn reads(self) -> usize {
        1 - self.writes()
    }
}

/// The network's behaviour when no fault is applied.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// One-way latency of a segment, drawn from this range.
    pub latency: (Duration, Duration),
    /// Percent of reads and writes cut short at a random byte.
    pub split_percent: u64,
    /// Bytes in flight per direction before a writer waits (the socket buffers).
    pub window: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            latency: (Duration::from_micros(50), Duration::from_micros(500)),
            split_percent: 30,
            window: 256 * 1024,
        }
    }
}

/// Called with the server's end of each new connection.
pub type Accept = Arc<dyn Fn(SimStream) + Send + Sync>;

/// The network; clones share it.
#[derive(Clone)]
pub struct Net(Arc<NetInner>);

struct NetInner {
    sim: Sim,
    state: Mutex<NetState>,
}

struct NetState {
    config: NetConfig,
    listeners: BTreeMap<String, Accept>,
    links: BTreeMap<u64, Link>,
    next_link: u64,
    /// Host and server pairs that cannot reach each other, until a time.
    partitions: BTreeMap<(u32, String), Duration>,
}

/// One connection.
struct Link {
    host: u32,
    server: String,
    /// Client to server, server to client.
    dirs: [Dir; 2],
    broken: bool,
    /// Ends not yet dropped.
    ends: u8,
}

#[derive(Default)]
struct Dir {
    queue: VecDeque<(Duration, Vec<u8>)>,
    in_flight: usize,
    last_at: Duration,
    stalled_until: Duration,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The writer closed: the reader gets EOF after the queue.
    closed: bool,
    /// The reader dropped its end: writes fail.
    reader_gone: bool,
}

/// A connection as the network's chaos sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The link's id.
    pub id: u64,
    /// The client host.
    pub host: u32,
    /// The server's address (`host:port`).
    pub server: String,
}

impl Net {
    /// A network on `sim`'s clock.
    pub fn new(sim: Sim, config: NetConfig) -> Self {
        Self(Arc::new(NetInner {
            sim,
            state: Mutex::new(NetState {
                config,
                listeners: BTreeMap::new(),
                links: BTreeMap::new(),
                next_link: 0,
                partitions: BTreeMap::new(),
            }),
        }))
    }

    /// The executor it runs on.
    pub fn sim(&self) -> &Sim {
        &self.0.sim
    }

    /// Starts accepting connections to `address` (`host:port`).
    pub fn listen(&self, address: &str, accept: Accept) {
        lock(&self.0.state).listeners.insert(address.to_owned(), accept);
    }

    /// Stops accepting connections to `address`: connects are refused.
    pub fn unlisten(&self, address: &str) {
        lock(&self.0.state).listeners.remove(address);
    }

    /// The open connections.
    pub fn links(&self) -> Vec<LinkInfo> {
        let state = lock(&self.0.state);
        state
            .links
            .iter()
            .filter(|(_, link)| !link.broken)
            .map(|(&id, link)| LinkInfo { id, host: link.host, server: link.server.clone() })
            .collect()
    }

    /// Breaks a connection: both ends read and write `ConnectionReset`, what was in
    /// flight is lost.
    pub fn reset(&self, id: u64) {
        let mut state = lock(&self.0.state);
        let Some(link) = state.links.get_mut(&id) else { return };
        link.broken = true;
        let wakers: Vec<Waker> =
            link.dirs.iter_mut().flat_map(|dir| [dir.reader.take(), dir.writer.take()]).flatten().collect();
        drop(state);
        self.0.sim.trace(&[10, id], || format!("reset link {id}"));
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Breaks every connection to `server`.
    pub fn reset_server(&self, server: &str) {
        let ids: Vec<u64> = self.links().into_iter().filter(|l| l.server == server).map(|l| l.id).collect();
        ids.into_iter().for_each(|id| self.reset(id));
    }

    /// Holds back what the server sends on `id` until `until` (a client that stops
    /// reading; the server sees its output pile up).
    pub fn stall(&self, id: u64, side: Side, until: Duration) {
        let mut state = lock(&self.0.state);
        let Some(link) = state.links.get_mut(&id) else { return };
        let dir = &mut link.dirs[side.writes()];
        dir.stalled_until = dir.stalled_until.max(until);
        let reader = dir.reader.take();
        drop(state);
        self.0.sim.trace(&[11, id, micros(until)], || format!("stall link {id} {side:?} until {until:?}"));
        if let Some(reader) = reader {
            self.0.sim.wake_at(until, reader);
        }
    }

    /// Cuts `host` off from `server` until `until`: nothing flows on their connections
    /// and new ones wait.
    pub fn partition(&self, host: u32, server: &str, until: Duration) {
        let ids: Vec<u64> =
            self.links().into_iter().filter(|l| l.host == host && l.server == server).map(|l| l.id).collect();
        lock(&self.0.state).partitions.insert((host, server.to_owned()), until);
        self.0.sim.trace(&[12, u64::from(host), micros(until)], || {
            format!("partition host {host} from {server} until {until:?}")
        });
        for id in ids {
            self.stall(id, Side::Client, until);
            self.stall(id, Side::Server, until);
        }
    }

    /// Opens a connection from `host` to `address`.
    pub fn connect(
        &self,
        host: u32,
        address: String,
    ) -> impl Future<Output = io::Result<SimStream>> + Send + 'static {
        let net = self.clone();
        async move {
            loop {
                let until = lock(&net.0.state).partitions.get(&(host, address.clone())).copied();
                match until {
                    Some(until) if until > net.0.sim.elapsed() => net.0.sim.sleep_until(until).await,
                    _ => break,
                }
            }
            let latency = net.latency();
            net.0.sim.sleep(latency * 2).await;
            let accept = lock(&net.0.state).listeners.get(&address).cloned();
            let Some(accept) = accept else {
                net.0.sim.trace(&[13, u64::from(host)], || format!("host {host}: {address} refused"));
                return Err(io::ErrorKind::ConnectionRefused.into());
            };
            let id = {
                let mut state = lock(&net.0.state);
                let id = state.next_link;
                state.next_link += 1;
                let link =
                    Link { host, server: address.clone(), dirs: Default::default(), broken: false, ends: 2 };
                state.links.insert(id, link);
                id
            };
            net.0.sim.trace(&[14, u64::from(host), id], || format!("host {host}: link {id} to {address}"));
            accept(SimStream { net: net.clone(), link: id, side: Side::Server });
            Ok(SimStream { net, link: id, side: Side::Client })
        }
    }

    fn latency(&self) -> Duration {
        let (lo, hi) = lock(&self.0.state).config.latency;
        let micros = self.0.sim.with_rng(|rng| rng.between(micros(lo), micros(hi)));
        Duration::from_micros(micros)
    }

    /// Bytes the server sent on `id` that its client has not read yet.
    pub fn unread(&self, id: u64) -> usize {
        lock(&self.0.state).links.get(&id).map_or(0, |link| link.dirs[Side::Server.writes()].in_flight)
    }
}

/// One end of a simulated connection: a futures-io stream.
pub struct SimStream {
    net: Net,
    link: u64,
    side: Side,
}

impl std::fmt::Debug for SimStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStream").field("link", &self.link).field("side", &self.side).finish()
    }
}

impl SimStream {
    /// The link's id.
    pub fn link(&self) -> u64 {
        self.link
    }

    /// The client host at the other end (for a server's end).
    pub fn host(&self) -> u32 {
        lock(&self.net.0.state).links.get(&self.link).map_or(u32::MAX, |link| link.host)
    }

    /// Closes the writing direction: the peer reads what was sent, then EOF.
    pub fn shutdown(&self) {
        let mut state = lock(&self.net.0.state);
        let Some(link) = state.links.get_mut(&self.link) else { return };
        let dir = &mut link.dirs[self.side.writes()];
        dir.closed = true;
        let at = dir.last_at.max(dir.stalled_until);
        let reader = dir.reader.take();
        drop(state);
        if let Some(reader) = reader {
            self.net.0.sim.wake_at(at, reader);
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let net = &self.net.0;
        let now = net.sim.elapsed();
        let mut state = lock(&net.state);
        let split = state.config.split_percent;
        let Some(link) = state.links.get_mut(&self.link) else {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        };
        if link.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let dir = &mut link.dirs[self.side.reads()];
        let deliverable = now >= dir.stalled_until && dir.queue.front().is_some_and(|(at, _)| *at <= now);
        if !deliverable {
            if dir.queue.is_empty() && dir.closed {
                return Poll::Ready(Ok(0));
            }
            dir.reader = Some(cx.waker().clone());
            let wake = dir.queue.front().map(|(at, _)| (*at).max(dir.stalled_until));
            drop(state);
            if let Some(at) = wake {
                net.sim.wake_at(at, cx.waker().clone());
            }
            return Poll::Pending;
        }
        let mut want = buf.len();
        if want > 1 && net.sim.with_rng(|rng| rng.chance(split)) {
            want = usize::try_from(net.sim.with_rng(|rng| rng.between(1, want as u64))).unwrap_or(want);
        }
        let mut n = 0;
        while n < want {
            let Some((at, bytes)) = dir.queue.front_mut() else { break };
            if *at > now {
                break;
            }
            let take = (want - n).min(bytes.len());
            buf[n..n + take].copy_from_slice(&bytes[..take]);
            bytes.drain(..take);
            n += take;
            if bytes.is_empty() {
                dir.queue.pop_front();
            }
        }
        dir.in_flight -= n;
        let writer = dir.writer.take();
        let (link_id, side) = (self.link, self.side);
        drop(state);
        net.sim.trace(&[20, link_id, side as u64, n as u64], || format!("link {link_id} {side:?} read {n}"));
        if let Some(writer) = writer {
            writer.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let latency = self.net.latency();
        let net = &self.net.0;
        let now = net.sim.elapsed();
        let mut state = lock(&net.state);
        let (split, window) = (state.config.split_percent, state.config.window);
        let Some(link) = state.links.get_mut(&self.link) else {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        };
        if link.broken {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let dir = &mut link.dirs[self.side.writes()];
        if dir.closed || dir.reader_gone {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if dir.in_flight >= window {
            dir.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut n = buf.len().min(window - dir.in_flight);
        if n > 1 && net.sim.with_rng(|rng| rng.chance(split)) {
            n = usize::try_from(net.sim.with_rng(|rng| rng.between(1, n as u64))).unwrap_or(n);
        }
        let at = (now + latency).max(dir.last_at);
        dir.last_at = at;
        dir.queue.push_back((at, buf[..n].to_vec()));
        dir.in_flight += n;
        let reader = dir.reader.take().map(|reader| (at.max(dir.stalled_until), reader));
        let (link_id, side) = (self.link, self.side);
        drop(state);
        net.sim.trace(&[21, link_id, side as u64, n as u64], || format!("link {link_id} {side:?} wrote {n}"));
        if let Some((at, reader)) = reader {
            net.sim.wake_at(at, reader);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown();
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.shutdown();
        let mut state = lock(&self.net.0.state);
        let Some(link) = state.links.get_mut(&self.link) else { return };
        let dir = &mut link.dirs[self.side.reads()];
        dir.reader_gone = true;
        dir.queue.clear();
        dir.in_flight = 0;
        let writer = dir.writer.take();
        link.ends -= 1;
        if link.ends == 0 {
            state.links.remove(&self.link);
        }
        drop(state);
        if let Some(writer) = writer {
            writer.wake();
        }
    }
}
