//! Simulated nats-servers, as faithful to nats-server as the client relies on: INFO
//! (cluster URLs, lame duck, the nonce), token and nkey authorization, authorization errors and the `-ERR` texts, PING/PONG both
//! ways with stale-connection cut-offs, subscriptions with wildcards and queue groups
//! across a cluster, max payload, slow-consumer cut-offs, restarts that lose what was in
//! flight, and no-responders statuses. The servers of a cluster share one routing table
//! (routes are instantaneous).

mod auth;
mod conn;
pub mod jetstream;
mod parse;
pub(crate) mod subject;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use crate::executor::lock;
use crate::net::{Net, SimStream};

/// How the servers are set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Servers in the cluster (`s0:4222`, `s1:4222`, ...).
    pub servers: usize,
    /// The nats-server version they announce and behave as ([`VERSION`] by default):
    /// before 2.12 no INFO follows the first PONG.
    pub version: String,
    /// The largest payload (headers included) a client may publish.
    pub max_payload: usize,
    /// Bytes queued for a client before the server cuts it off as a slow consumer.
    pub max_pending: usize,
    /// How often the server PINGs each client.
    pub ping_interval: Duration,
    /// Unanswered PINGs before `-ERR 'Stale Connection'`.
    pub ping_max: u32,
    /// A token every CONNECT must carry (`auth_token`).
    pub token: Option<String>,
    /// Users' nkey public keys (`U...`): with any, each connection's first INFO carries a
    /// nonce that the CONNECT must sign with one of them (`nkey` and `sig`).
    pub nkeys: Vec<String>,
    /// How long a lame-duck server keeps its clients before closing them.
    pub lame_duck_grace: Duration,
    /// Whether JetStream answers on `$JS.API.>`.
    pub jetstream: bool,
    /// Deliberate defects (none by default), to show that the invariants catch them.
    pub defects: Defects,
}

/// Ways to make the servers break NATS' guarantees on purpose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects {
    /// Drop every n-th message delivered to a subscription.
    pub drop_every: Option<u64>,
    /// Deliver every n-th message twice.
    pub duplicate_every: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            servers: 1,
            version: VERSION.to_owned(),
            max_payload: 1024 * 1024,
            max_pending: 64 * 1024 * 1024,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            token: None,
            nkeys: Vec::new(),
            lame_duck_grace: Duration::from_secs(2),
            jetstream: false,
            defects: Defects::default(),
        }
    }
}

/// The version the simulated servers announce unless configured otherwise.
pub const VERSION: &str = "2.15.1";

/// A cluster of simulated servers; clones share it.
#[derive(Clone)]
pub struct Cluster(Arc<ClusterInner>);

struct ClusterInner {
    net: Net,
    config: ServerConfig,
    state: Mutex<ClusterState>,
}

pub(crate) struct ClusterState {
    servers: Vec<ServerState>,
    conns: BTreeMap<u64, Conn>,
    next_cid: u64,
    pub(crate) jetstream: Option<jetstream::JetStream>,
    defects: Defects,
    /// Messages delivered to subscriptions so far (for the defects).
    deliveries: u64,
}

#[derive(Debug, Clone, Copy)]
struct ServerState {
    up: bool,
    lame_duck: bool,
}

/// One client connection as its server holds it.
struct Conn {
    server: usize,
    link: u64,
    out: Vec<u8>,
    waker: Option<Waker>,
    subs: BTreeMap<String, Sub>,
    connected: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    verbose: bool,
    pings_out: u32,
    close: Option<Close>,
    /// The nonce its first INFO carried (with nkey users).
    nonce: Option<String>,
    /// The `protocol` its CONNECT declared.
    protocol: u64,
    /// Whether the first PONG after CONNECT (and the INFO with `connect_info`) went out.
    first_pong_sent: bool,
}

/// Which of a connection's INFOs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Info {
    /// The first, before CONNECT: the only one with the nonce.
    First,
    /// An asynchronous update: cluster URLs, lame duck.
    Update,
    /// The one nats-server (2.12 and later) sends after its first PONG to a client that
    /// declared `protocol` 1: `connect_info` and the account the client is bound to.
    Bound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Send what is queued (an `-ERR`), then close.
    AfterFlush,
    /// Close at once, dropping what is queued (slow consumer).
    Now,
}

struct Sub {
    subject: String,
    queue: Option<String>,
    max: Option<u64>,
    delivered: u64,
}

/// A message to route.
pub(crate) struct Publish<'a> {
    pub(crate) subject: &'a str,
    pub(crate) reply: Option<&'a str>,
    pub(crate) headers: Option<&'a [u8]>,
    pub(crate) payload: &'a [u8],
}

impl Cluster {
    /// Starts `config.servers` servers on `net`, all listening.
    pub fn new(net: &Net, config: ServerConfig) -> Self {
        let servers = vec![ServerState { up: false, lame_duck: false }; config.servers];
        let jetstream = config.jetstream.then(jetstream::JetStream::default);
        let defects = config.defects.clone();
        let cluster = Self(Arc::new(ClusterInner {
            net: net.clone(),
            config,
            state: Mutex::new(ClusterState {
                servers,
                conns: BTreeMap::new(),
                next_cid: 1,
                jetstream,
                defects,
                deliveries: 0,
            }),
        }));
        for i in 0..cluster.0.config.servers {
            cluster.start(i);
        }
        jetstream::spawn_ticker(&cluster);
        cluster
    }

    /// Server `i`'s address, `s<i>:4222`.
    pub fn address(i: usize) -> String {
        format!("s{i}:4222")
    }

    /// Every server's URL, comma-separated, for a client's seed list.
    pub fn urls(&self) -> String {
        (0..self.0.config.servers)
            .map(|i| format!("nats://{}", Self::address(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How many servers the cluster has.
    pub fn len(&self) -> usize {
        self.0.config.servers
    }

    /// Whether the cluster has no servers.
    pub fn is_empty(&self) -> bool {
        self.0.config.servers == 0
    }

    /// Whether server `i` is running.
    pub fn is_up(&self, i: usize) -> bool {
        lock(&self.0.state).servers[i].up
    }

    /// Starts server `i` (again): it accepts connections, and the others tell their
    /// clients of it (an asynchronous INFO).
    pub fn start(&self, i: usize) {
        {
            let mut state = lock(&self.0.state);
            if state.servers[i].up {
                return;
            }
            state.servers[i] = ServerState { up: true, lame_duck: false };
            let cids: Vec<u64> =
                state.conns.iter().filter(|(_, c)| c.connected).map(|(&cid, _)| cid).collect();
            for cid in cids {
                let info = self.info(&state, cid, Info::Update);
                state.send(cid, info.as_bytes());
            }
        }
        self.0.net.sim().trace(&[30, i as u64], || format!("server s{i} starts"));
        let cluster = self.clone();
        self.0.net.listen(&Self::address(i), Arc::new(move |stream| cluster.accept(i, stream)));
    }

    /// Stops server `i` at once: its connections break, what was in flight is lost, its
    /// clients' subscriptions are gone. JetStream keeps what it stored.
    pub fn stop(&self, i: usize) {
        self.0.net.unlisten(&Self::address(i));
        let links: Vec<u64> = {
            let mut state = lock(&self.0.state);
            state.servers[i].up = false;
            let gone: Vec<u64> =
                state.conns.iter().filter(|(_, c)| c.server == i).map(|(&cid, _)| cid).collect();
            gone.into_iter().filter_map(|cid| state.conns.remove(&cid)).map(|c| c.link).collect()
        };
        self.0.net.sim().trace(&[31, i as u64], || format!("server s{i} stops"));
        links.into_iter().for_each(|link| self.0.net.reset(link));
    }

    /// Puts server `i` in lame-duck mode: its clients get an INFO with `ldm`, and after
    /// the grace period it stops.
    pub fn lame_duck(&self, i: usize) {
        {
            let mut state = lock(&self.0.state);
            if !state.servers[i].up || state.servers[i].lame_duck {
                return;
            }
            state.servers[i].lame_duck = true;
            let cids: Vec<u64> = state
                .conns
                .iter()
                .filter(|(_, c)| c.connected && c.server == i)
                .map(|(&cid, _)| cid)
                .collect();
            for cid in cids {
                let info = self.info(&state, cid, Info::Update);
                state.send(cid, info.as_bytes());
            }
        }
        self.0.net.sim().trace(&[32, i as u64], || format!("server s{i} enters lame duck mode"));
        let cluster = self.clone();
        let sim = self.0.net.sim().clone();
        let grace = self.0.config.lame_duck_grace;
        sim.clone().spawn(async move {
            sim.sleep(grace).await;
            if lock(&cluster.0.state).servers[i].lame_duck {
                cluster.stop(i);
            }
        });
    }

    /// The INFO line `which` for connection `cid`.
    fn info(&self, state: &ClusterState, cid: u64, which: Info) -> String {
        let server = state.conns.get(&cid).map_or(0, |c| c.server);
        let config = &self.0.config;
        let urls: Vec<String> = (0..config.servers)
            .filter(|&j| state.servers[j].up && !state.servers[j].lame_duck)
            .map(Self::address)
            .collect();
        let mut info = serde_json::json!({
            "server_id": format!("SIM{server}"),
            "server_name": format!("s{server}"),
            "version": config.version,
            "proto": 1,
            "go": "sim",
            "host": format!("s{server}"),
            "port": 4222,
            "headers": true,
            "max_payload": config.max_payload,
            "client_id": cid,
            "cluster": "sim",
            "connect_urls": urls,
            "auth_required": auth::required(config),
            "jetstream": config.jetstream,
            "ldm": state.servers[server].lame_duck,
        });
        if let Some(fields) = info.as_object_mut() {
            match which {
                Info::First => {
                    if let Some(nonce) = state.conns.get(&cid).and_then(|c| c.nonce.as_ref()) {
                        fields.insert("nonce".into(), nonce.as_str().into());
                    }
                }
                Info::Bound => {
                    fields.insert("connect_info".into(), true.into());
                    fields.insert("remote_account".into(), "$G".into());
                }
                Info::Update => {}
            }
        }
        format!("INFO {info} \r\n")
    }

    /// A new connection to server `i`.
    fn accept(&self, i: usize, stream: SimStream) {
        let cid = {
            let mut state = lock(&self.0.state);
            if !state.servers[i].up {
                return;
            }
            let cid = state.next_cid;
            state.next_cid += 1;
            state.conns.insert(
                cid,
                Conn {
                    server: i,
                    link: stream.link(),
                    out: Vec::new(),
                    waker: None,
                    subs: BTreeMap::new(),
                    connected: false,
                    echo: true,
                    headers: false,
                    no_responders: false,
                    verbose: true,
                    pings_out: 0,
                    close: None,
                    nonce: self.0.net.sim().with_rng(|rng| auth::nonce(&self.0.config, rng)),
                    protocol: 0,
                    first_pong_sent: false,
                },
            );
            let info = self.info(&state, cid, Info::First);
            state.send(cid, info.as_bytes());
            cid
        };
        self.0.net.sim().spawn(conn::serve(self.clone(), cid, stream));
    }

    /// Runs `f` on the JetStream model (`None` without JetStream).
    pub fn with_jetstream<T>(&self, f: impl FnOnce(&mut jetstream::JetStream) -> T) -> Option<T> {
        lock(&self.0.state).jetstream.as_mut().map(f)
    }
}

impl ClusterState {
    /// Queues `bytes` for connection `cid` and wakes its task.
    fn send(&mut self, cid: u64, bytes: &[u8]) {
        if let Some(conn) = self.conns.get_mut(&cid) {
            if conn.close != Some(Close::Now) {
                conn.out.extend_from_slice(bytes);
            }
            if let Some(waker) = &conn.waker {
                waker.wake_by_ref();
            }
        }
    }

    /// Queues `-ERR '<text>'` and closes after it.
    fn fail(&mut self, cid: u64, text: &str) {
        self.send(cid, format!("-ERR '{text}'\r\n").as_bytes());
        if let Some(conn) = self.conns.get_mut(&cid) {
            conn.close = Some(Close::AfterFlush);
        }
    }

    /// Delivers a message to every matching subscription of the cluster's running
    /// servers (one member per queue group), then to JetStream. Returns how many
    /// subscriptions received it.
    pub(crate) fn route(
        &mut self,
        net: &Net,
        max_pending: usize,
        from: Option<u64>,
        msg: &Publish<'_>,
    ) -> usize {
        let mut direct = Vec::new();
        let mut groups: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
        for (&cid, conn) in &self.conns {
            if !conn.connected || !self.servers[conn.server].up || (!conn.echo && Some(cid) == from) {
                continue;
            }
            for (sid, sub) in &conn.subs {
                if subject::matches(&sub.subject, msg.subject) {
                    match &sub.queue {
                        Some(queue) => groups.entry(queue.as_str()).or_default().push((cid, sid.as_str())),
                        None => direct.push((cid, sid.clone())),
                    }
                }
            }
        }
        for members in groups.into_values() {
            let pick = net.sim().with_rng(|rng| rng.below(members.len() as u64));
            let (cid, sid) = members[usize::try_from(pick).unwrap_or(0)];
            direct.push((cid, sid.to_owned()));
        }
        let delivered = direct.len();
        for (cid, sid) in direct {
            self.deliveries += 1;
            let n = self.deliveries;
            if self.defects.drop_every.is_some_and(|every| n.is_multiple_of(every)) {
                continue;
            }
            self.deliver(net, max_pending, cid, &sid, msg);
            if self.defects.duplicate_every.is_some_and(|every| n.is_multiple_of(every)) {
                self.deliver(net, max_pending, cid, &sid, msg);
            }
        }
        delivered
    }

    /// Writes MSG or HMSG for `sid` to `cid`; cuts the connection off when its backlog
    /// passes `max_pending` (a slow consumer: no `-ERR`, as nats-server).
    pub(crate) fn deliver(&mut self, net: &Net, max_pending: usize, cid: u64, sid: &str, msg: &Publish<'_>) {
        let Some(conn) = self.conns.get_mut(&cid) else { return };
        let Some(sub) = conn.subs.get_mut(sid) else { return };
        sub.delivered += 1;
        if sub.max.is_some_and(|max| sub.delivered >= max) {
            conn.subs.remove(sid);
        }
        if conn.close == Some(Close::Now) {
            return;
        }
        let reply = msg.reply.map(|r| format!(" {r}")).unwrap_or_default();
        let line = match msg.headers {
            Some(h) if conn.headers => {
                format!("HMSG {} {sid}{reply} {} {}\r\n", msg.subject, h.len(), h.len() + msg.payload.len())
            }
            _ => format!("MSG {} {sid}{reply} {}\r\n", msg.subject, msg.payload.len()),
        };
        conn.out.extend_from_slice(line.as_bytes());
        if conn.headers {
            conn.out.extend_from_slice(msg.headers.unwrap_or_default());
        }
        conn.out.extend_from_slice(msg.payload);
        conn.out.extend_from_slice(b"\r\n");
        if conn.out.len() + net.unread(conn.link) > max_pending {
            conn.close = Some(Close::Now);
            conn.out.clear();
            let link = conn.link;
            net.sim().trace(&[33, cid], || format!("conn {cid} (link {link}) cut off as a slow consumer"));
        }
        if let Some(waker) = &conn.waker {
            waker.wake_by_ref();
        }
    }

    /// A status message (`NATS/1.0 <code>`) to the reply subject of a request from `cid`,
    /// on that connection's matching subscription.
    pub(crate) fn status(&mut self, net: &Net, cid: u64, reply: &str, headers: &[u8]) {
        let sid = self.conns.get(&cid).and_then(|conn| {
            conn.subs
                .iter()
                .find(|(_, sub)| subject::matches(&sub.subject, reply))
                .map(|(sid, _)| sid.clone())
        });
        if let Some(sid) = sid {
            let msg = Publish { subject: reply, reply: None, headers: Some(headers), payload: b"" };
            self.deliver(net, usize::MAX, cid, &sid, &msg);
        }
    }
}
