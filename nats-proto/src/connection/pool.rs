//! The server pool: which server to try next, and when.

use crate::prelude::*;

use crate::time::{deadline, Instant};

use super::rng::Rng;
use crate::{
    info::ServerInfo,
    options::Options,
    server_addr::{Scheme, ServerAddr},
    server_error::ServerErrorKind,
};

/// One server and its attempt history.
#[derive(Debug, Clone)]
pub(crate) struct Entry<I> {
    pub(crate) addr: ServerAddr,
    /// Learned from `connect_urls` rather than configured.
    pub(crate) implicit: bool,
    /// Failed attempts since the last successful connection to it.
    pub(crate) failures: u32,
    /// When it was last tried.
    pub(crate) last_attempt: Option<I>,
    /// The last authorization error it answered with, since the last successful
    /// connection to it.
    pub(crate) last_auth_error: Option<ServerErrorKind>,
    /// Whether a connection to it was ever established.
    pub(crate) did_connect: bool,
}

impl<I> Entry<I> {
    fn new(addr: ServerAddr, implicit: bool) -> Self {
        Self { addr, implicit, failures: 0, last_attempt: None, last_auth_error: None, did_connect: false }
    }
}

/// A server of the pool as the application sees it
/// ([`Connection::server_pool`](crate::Connection::server_pool), ADR-40): its address and its
/// attempt history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Server {
    /// Its address (credentials included, as configured or inherited).
    pub addr: ServerAddr,
    /// Failed connection attempts since the last successful connection to it.
    pub failed_attempts: u32,
    /// Whether a connection to it was ever established.
    pub did_connect: bool,
    /// Whether it was learned from the cluster (`connect_urls`) rather than configured.
    pub is_discovered: bool,
}

impl<I> From<&Entry<I>> for Server {
    fn from(entry: &Entry<I>) -> Self {
        Self {
            addr: entry.addr.clone(),
            failed_attempts: entry.failures,
            did_connect: entry.did_connect,
            is_discovered: entry.implicit,
        }
    }
}

/// The servers, in the order they will be tried: the front is next, a tried server moves
/// to the back.
#[derive(Debug, Clone)]
pub(crate) struct Pool<I> {
    entries: Vec<Entry<I>>,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next<I> {
    /// Try this server at this time.
    Try { at: I },
    /// Every server is exhausted.
    Exhausted,
}

impl<I: Instant> Pool<I> {
    pub(crate) fn new(options: &Options, rng: &mut Rng) -> Self {
        let mut entries: Vec<Entry<I>> =
            options.servers.iter().map(|addr| Entry::new(addr.clone(), false)).collect();
        if options.randomize {
            rng.shuffle(&mut entries);
        }
        Self { entries }
    }

    /// All servers.
    pub(crate) fn servers(&self) -> impl Iterator<Item = &ServerAddr> {
        self.entries.iter().map(|e| &e.addr)
    }

    /// Every server with its history, in the order they will be tried.
    pub(crate) fn snapshot(&self) -> Vec<Server> {
        self.entries.iter().map(Server::from).collect()
    }

    /// Replaces the servers with `servers` (checked by the caller: not empty, of the
    /// pool's kind), in their order. A server already known keeps its history (failures,
    /// whether it connected); the others, discovered ones included, are forgotten.
    pub(crate) fn replace(&mut self, servers: Vec<ServerAddr>) {
        let mut old = core::mem::take(&mut self.entries);
        self.entries = servers
            .into_iter()
            .map(|addr| match old.iter().position(|e| e.addr.same_endpoint(&addr)) {
                Some(i) => Entry { addr, implicit: false, ..old.swap_remove(i) },
                None => Entry::new(addr, false),
            })
            .collect();
    }

    /// Whether `servers` are of the pool's kind (WebSocket or NATS): a connection's
    /// transports are all one or the other.
    pub(crate) fn same_kind(&self, servers: &[ServerAddr]) -> bool {
        let Some(current) = self.entries.first() else { return true };
        servers.iter().all(|s| s.is_websocket() == current.addr.is_websocket())
    }

    /// The servers learned from `connect_urls`.
    pub(crate) fn discovered(&self) -> impl Iterator<Item = &ServerAddr> {
        self.entries.iter().filter(|e| e.implicit).map(|e| &e.addr)
    }

    /// Drops servers that used up their attempts; says when to try the front one.
    ///
    /// A server never tried is tried at once; one tried before waits `reconnect_wait`
    /// doubled for each consecutive failure (capped at `reconnect_backoff_max`) from its
    /// last attempt, plus jitter. A server that was connected to long ago is thus retried
    /// at once, while one that keeps dropping connections right after they open is not
    /// hammered.
    ///
    /// When `reconnecting` (a connection was established before; it holds the last INFO)
    /// with a [`reconnect_to_server_callback`](Options::reconnect_to_server_callback), the
    /// callback picks the server and the wait (from now) instead, given the pool and that
    /// INFO; when it picks none, or a server not in the pool, the rules above apply.
    pub(crate) fn next(
        &mut self,
        now: I,
        options: &Options,
        reconnecting: Option<Option<&ServerInfo>>,
        rng: &mut Rng,
    ) -> Next<I> {
        if let Some(max) = options.max_reconnect_attempts {
            self.entries.retain(|e| e.failures < max.max(1));
        }
        if self.entries.is_empty() {
            return Next::Exhausted;
        }
        if let (Some(callback), Some(info)) = (&options.reconnect_to_server_callback, reconnecting) {
            if let Some((addr, wait)) = callback.choose(&self.snapshot(), info) {
                if let Some(i) = self.entries.iter().position(|e| e.addr.same_endpoint(&addr)) {
                    let entry = self.entries.remove(i);
                    self.entries.insert(0, entry);
                    return Next::Try { at: deadline(now, wait) };
                }
            }
        }
        let Some(entry) = self.entries.first() else { return Next::Exhausted };
        let Some(last) = entry.last_attempt else { return Next::Try { at: now } };
        if let Some(callback) = &options.reconnect_delay_callback {
            return Next::Try { at: deadline(last, callback.delay(entry.failures)).max(now) };
        }
        let doublings = entry.failures.saturating_sub(1).min(20);
        let backoff =
            options.reconnect_wait.saturating_mul(1 << doublings).min(options.reconnect_backoff_max);
        let jitter_max = if entry.addr.tls() || options.tls_required {
            options.reconnect_jitter_tls
        } else {
            options.reconnect_jitter
        };
        let at = deadline(last, backoff.saturating_add(rng.duration_below(jitter_max)));
        Next::Try { at: at.max(now) }
    }

    /// Marks the front server as being tried now and moves it to the back; returns it.
    pub(crate) fn start_attempt(&mut self, now: I) -> ServerAddr {
        let mut entry = self.entries.remove(0);
        entry.last_attempt = Some(now);
        let addr = entry.addr.clone();
        self.entries.push(entry);
        addr
    }

    /// Records the outcome of an attempt to `addr`.
    pub(crate) fn record(&mut self, addr: &ServerAddr, success: bool) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.addr.same_endpoint(addr)) {
            entry.failures = if success { 0 } else { entry.failures.saturating_add(1) };
            if success {
                entry.last_auth_error = None;
                entry.did_connect = true;
            }
        }
    }

    /// Records that `addr` refused the credentials with `kind`; returns whether its
    /// previous authorization error (since the last successful connection to it) was the
    /// same: the second identical refusal in a row.
    pub(crate) fn record_auth_error(&mut self, addr: &ServerAddr, kind: &ServerErrorKind) -> bool {
        let Some(entry) = self.entries.iter_mut().find(|e| e.addr.same_endpoint(addr)) else { return false };
        let repeated = entry.last_auth_error.as_ref() == Some(kind);
        entry.last_auth_error = Some(kind.clone());
        repeated
    }

    /// Moves `addr` to the back so that other servers are tried first (lame duck).
    pub(crate) fn demote(&mut self, addr: &ServerAddr) {
        if let Some(i) = self.entries.iter().position(|e| e.addr.same_endpoint(addr)) {
            let entry = self.entries.remove(i);
            self.entries.push(entry);
        }
    }

    /// Whether any server other than `addr` is known.
    pub(crate) fn has_other_than(&self, addr: &ServerAddr) -> bool {
        self.entries.iter().any(|e| !e.addr.same_endpoint(addr))
    }

    /// Whether every server has been tried at least once without success since it was
    /// last connected to (the end of an initial connection pass).
    pub(crate) fn all_failed(&self) -> bool {
        self.entries.iter().all(|e| e.failures > 0)
    }

    /// Adds the servers of `connect_urls` that are not known yet, with the scheme and
    /// credentials of `current`; returns the added ones.
    pub(crate) fn discover(
        &mut self,
        urls: &[String],
        current: &ServerAddr,
        randomize: bool,
        rng: &mut Rng,
    ) -> Vec<ServerAddr> {
        let mut added = Vec::new();
        for url in urls {
            // A WebSocket client is sent the cluster's WebSocket URLs (host:port), to be
            // reached the same way as the current server.
            let scheme = match current.scheme() {
                Scheme::Ws | Scheme::Wss => current.scheme().as_str(),
                _ if current.tls() => "tls",
                _ => "nats",
            };
            let with_scheme = format!("{scheme}://{}", url.trim());
            let Ok(mut addr) = with_scheme.parse::<ServerAddr>() else { continue };
            if self.entries.iter().any(|e| e.addr.same_endpoint(&addr))
                || added.iter().any(|a: &ServerAddr| a.same_endpoint(&addr))
            {
                continue;
            }
            addr.inherit_credentials(current);
            added.push(addr);
        }
        if randomize {
            rng.shuffle(&mut added);
        }
        // Ahead of the current server, which was moved to the back when it was tried: after
        // a loss the new servers come before it, like every other server.
        let at =
            self.entries.iter().position(|e| e.addr.same_endpoint(current)).unwrap_or(self.entries.len());
        self.entries.splice(at..at, added.iter().map(|addr| Entry::new(addr.clone(), true)));
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use std::time::Instant;

    fn options(urls: &str) -> Options {
        Options { randomize: false, ..Options::new(urls).unwrap() }
    }

    #[test]
    fn round_robin_with_backoff_and_jitter() {
        let opts = Options { reconnect_jitter: Duration::from_millis(100), ..options("a:1,b:2") };
        let mut rng = Rng::new(Some(1));
        let mut pool = Pool::new(&opts, &mut rng);
        let t0 = Instant::now();
        assert_eq!(pool.next(t0, &opts, None, &mut rng), Next::Try { at: t0 });
        let a = pool.start_attempt(t0);
        assert_eq!(a.port(), 1);
        pool.record(&a, false);
        assert_eq!(pool.next(t0, &opts, None, &mut rng), Next::Try { at: t0 }, "b was never tried");
        let b = pool.start_attempt(t0);
        pool.record(&b, false);
        // a failed once: reconnect_wait (2 s) + jitter below 100 ms after its attempt.
        let Next::Try { at } = pool.next(t0, &opts, None, &mut rng) else { panic!() };
        assert!(at >= t0 + Duration::from_secs(2) && at < t0 + Duration::from_millis(2100), "{:?}", at - t0);
        assert!(pool.all_failed());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let opts = Options { reconnect_jitter: Duration::ZERO, ..options("a") };
        let mut rng = Rng::new(Some(1));
        let mut pool = Pool::new(&opts, &mut rng);
        let t0 = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..5 {
            let addr = pool.start_attempt(t0);
            pool.record(&addr, false);
            let Next::Try { at } = pool.next(t0, &opts, None, &mut rng) else { panic!() };
            waits.push((at - t0).as_secs());
        }
        assert_eq!(waits, [2, 4, 8, 8, 8]);
    }

    #[test]
    fn waits_of_duration_max_saturate_at_never() {
        use crate::options::ReconnectDelay;
        use crate::time::NEVER;

        let huge = Options {
            reconnect_wait: Duration::MAX,
            reconnect_backoff_max: Duration::MAX,
            reconnect_jitter: Duration::MAX,
            ..options("a")
        };
        let by_callback = Options {
            reconnect_delay_callback: Some(ReconnectDelay::new(|_| Duration::MAX)),
            ..options("a")
        };
        for opts in [huge, by_callback] {
            let mut rng = Rng::new(Some(1));
            let mut pool = Pool::new(&opts, &mut rng);
            let t0 = Instant::now();
            for _ in 0..3 {
                let addr = pool.start_attempt(t0);
                pool.record(&addr, false);
                assert_eq!(pool.next(t0, &opts, None, &mut rng), Next::Try { at: t0 + NEVER });
            }
        }
    }

    #[test]
    fn exhausted_after_max_attempts() {
        let opts = Options { max_reconnect_attempts: Some(2), ..options("a") };
        let mut rng = Rng::new(Some(1));
        let mut pool = Pool::new(&opts, &mut rng);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(matches!(pool.next(t0, &opts, None, &mut rng), Next::Try { .. }));
            let addr = pool.start_attempt(t0);
            pool.record(&addr, false);
        }
        assert_eq!(pool.next(t0, &opts, None, &mut rng), Next::Exhausted);
    }

    #[test]
    fn discovery_dedupes_and_inherits() {
        let opts = options("nats://u:p@127.0.0.1:4222");
        let mut rng = Rng::new(Some(1));
        let mut pool: Pool<Instant> = Pool::new(&opts, &mut rng);
        let current = opts.servers[0].clone();
        let urls = [
            "127.0.0.1:4222".to_owned(),
            "127.0.0.1:4223".to_owned(),
            "bad url:x".to_owned(),
            "127.0.0.1:4223".to_owned(),
        ];
        let added = pool.discover(&urls, &current, false, &mut rng);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].port(), 4223);
        assert_eq!(added[0].user(), Some("u"));
        assert!(pool.has_other_than(&current));
        assert_eq!(pool.servers().count(), 2);
    }

    #[test]
    fn discovered_servers_come_before_the_server_just_tried() {
        let opts = options("a:1,b:2");
        let mut rng = Rng::new(Some(1));
        let mut pool = Pool::new(&opts, &mut rng);
        let t0 = Instant::now();
        let a = pool.start_attempt(t0);
        pool.record(&a, true);
        pool.discover(&["c:3".to_owned()], &a, false, &mut rng);
        let order: Vec<u16> = pool.servers().map(ServerAddr::port).collect();
        assert_eq!(order, [2, 3, 1]);
    }
}
