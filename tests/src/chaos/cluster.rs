//! A three-node JetStream cluster for fault injection: each node with its own store
//! directory and `sync_interval: always`, on free ports below the ephemeral range kept
//! across restarts; the stream leader found from stream info; kill -9, pause, resume,
//! restart and lame duck of any node.
//!
//! Why `sync_interval: always`: by default nats-server flushes its file store to disk every
//! two minutes and acknowledges a publish once a quorum has it in memory (Jepsen's 2.12.1
//! analysis lost acknowledged writes exactly this way when nodes crashed together). A kill -9
//! of two nodes could then lose acknowledged messages through no fault of the client. With
//! every write synced before it is acknowledged, a lost ack is the client's (or a real
//! server bug), which is what these runs are meant to find.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use nats_client::Client;
use tempfile::TempDir;

use crate::ports::free_port;
use crate::server::{ClusterConfig, NatsServer, ServerConfig};

/// The cluster's name.
const CLUSTER_NAME: &str = "chaos";

/// nats-server's longest Raft election timeout (`maxElectionTimeoutDefault`, 9 s; the
/// shortest is 4 s): a follower that hears nothing from its leader for a random time in
/// between campaigns.
pub const MAX_ELECTION_TIMEOUT: Duration = Duration::from_secs(9);

/// How long a test waits for a new leader: what the server guarantees, not a guess. After
/// a fault, the meta group (which answers stream info) and the stream's group may both
/// need a new leader, one after the other, and either election may need a second round
/// when votes split: four election timeouts. A paused leader adds its own pause, and a
/// loaded machine (CI, 2 cores shared) stretches every timer: half as much again on top.
pub const ELECTION_DEADLINE: Duration = Duration::from_secs(MAX_ELECTION_TIMEOUT.as_secs() * 4 * 3 / 2);

/// A three-node (or `n`-node) JetStream cluster. Node `i` is named `node-i`.
#[derive(Debug)]
pub struct JetStreamCluster {
    /// The nodes, in name order.
    pub nodes: Vec<NatsServer>,
    /// The store directories (one per node, kept across restarts, removed on drop).
    stores: Vec<TempDir>,
    /// Whether each node is paused (SIGSTOP).
    paused: Vec<bool>,
}

impl JetStreamCluster {
    /// Starts `size` JetStream nodes, every one routing to every other.
    ///
    /// # Panics
    /// When a node does not start.
    pub fn start(size: usize) -> Self {
        // Fixed before the first node starts: each node's routes name the others'.
        let ports: Vec<u16> = (0..2 * size).map(|_| free_port()).collect();
        let (client_ports, cluster_ports) = ports.split_at(size);
        let routes: Vec<String> =
            cluster_ports.iter().map(|p| format!("nats-route://127.0.0.1:{p}")).collect();
        let mut stores = Vec::with_capacity(size);
        let mut nodes = Vec::with_capacity(size);
        for (i, port) in cluster_ports.iter().enumerate() {
            let store = tempfile::Builder::new().prefix("nats-chaos-store-").tempdir().expect("a temp dir");
            let quote = |s: &str| serde_json::to_string(s).expect("strings serialise");
            let mut extra = String::new();
            // `sync_interval: always`: see the module docs.
            writeln!(
                extra,
                "jetstream {{ store_dir: {}, sync_interval: always }}",
                quote(&store.path().display().to_string())
            )
            .unwrap();
            // The shortest the server allows; the nemesis restarts a lame duck before the end.
            writeln!(extra, "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"").unwrap();
            let config = ServerConfig {
                name: Some(format!("node-{i}")),
                port: Some(client_ports[i]),
                cluster: Some(ClusterConfig {
                    name: CLUSTER_NAME.to_owned(),
                    port: Some(*port),
                    routes: routes
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, r)| r.clone())
                        .collect(),
                }),
                extra,
                ..ServerConfig::default()
            };
            stores.push(store);
            nodes.push(NatsServer::start(config));
        }
        Self { nodes, stores, paused: vec![false; size] }
    }

    /// Every node's client URL, comma-separated.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// The node named `name` (`node-<i>`).
    pub fn node_by_name(&self, name: &str) -> Option<usize> {
        name.strip_prefix("node-").and_then(|i| i.parse().ok()).filter(|i| *i < self.nodes.len())
    }

    /// Whether node `i` runs and is not paused.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].is_running() && !self.paused[i]
    }

    /// Kill -9 node `i` (its store stays).
    pub fn kill(&mut self, i: usize) {
        if self.paused[i] {
            self.resume(i);
        }
        self.nodes[i].stop();
    }

    /// Freezes node `i` (SIGSTOP).
    pub fn pause(&mut self, i: usize) {
        if !self.paused[i] && self.nodes[i].is_running() {
            self.nodes[i].pause();
            self.paused[i] = true;
        }
    }

    /// Resumes node `i` (SIGCONT).
    pub fn resume(&mut self, i: usize) {
        if self.paused[i] {
            self.nodes[i].resume();
            self.paused[i] = false;
        }
    }

    /// Puts node `i` in lame duck mode.
    pub fn lame_duck(&self, i: usize) {
        self.nodes[i].enter_lame_duck_mode();
    }

    /// Starts node `i` again on the same ports and store (killing it first if it runs).
    pub fn restart(&mut self, i: usize) {
        self.resume(i);
        self.nodes[i].restart();
    }

    /// Brings every node back: resumes the paused, restarts the stopped.
    pub fn heal(&mut self) {
        for i in 0..self.nodes.len() {
            self.resume(i);
            if !self.nodes[i].is_running() {
                self.nodes[i].restart();
            }
        }
    }

    /// The store directory of node `i`.
    pub fn store_dir(&self, i: usize) -> &std::path::Path {
        self.stores[i].path()
    }
}

/// The connect options of every client of a cluster under faults: fast reconnects, and a
/// ping every second with two outstanding at most, so a client connected to a paused node
/// (SIGSTOP keeps its TCP connections open, silent) notices within about three seconds
/// and moves to another node instead of waiting for the default two-minute ping.
pub fn client_options() -> nats_client::ConnectOptions {
    crate::rt::fast_reconnect().ping_interval(Duration::from_secs(1)).max_pings_outstanding(2)
}

/// What stream info says about a stream's replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlacement {
    /// The leader's server name.
    pub leader: String,
    /// The other replicas: name and whether it is current.
    pub replicas: Vec<(String, bool)>,
    /// The last sequence.
    pub last_seq: u64,
}

/// One stream info request: the leader (`cluster.leader`) and replicas, or `None` when
/// the stream has no leader now (no answer, an error, an election going on).
pub async fn stream_placement(client: &Client, stream: &str) -> Option<StreamPlacement> {
    let reply = client
        .request_with(format!("$JS.API.STREAM.INFO.{stream}"), None, "{}".into(), Duration::from_secs(2))
        .await
        .ok()?;
    let info: serde_json::Value = serde_json::from_slice(&reply.payload).ok()?;
    let cluster = info.get("cluster")?;
    let leader = cluster.get("leader")?.as_str()?.to_owned();
    if leader.is_empty() {
        return None;
    }
    let replicas = cluster
        .get("replicas")
        .and_then(|r| r.as_array())
        .map(|r| {
            r.iter()
                .filter_map(|p| {
                    Some((
                        p.get("name")?.as_str()?.to_owned(),
                        p.get("current").and_then(serde_json::Value::as_bool).unwrap_or(false),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let last_seq = info.pointer("/state/last_seq").and_then(serde_json::Value::as_u64).unwrap_or(0);
    Some(StreamPlacement { leader, replicas, last_seq })
}

/// How often [`wait_for_leader`] asks.
const POLL: Duration = Duration::from_millis(100);

/// Polls stream info until the stream has a leader accepted by `accept` (its name), for
/// at most `timeout`; `None` on timeout.
pub async fn wait_for_leader(
    client: &Client,
    stream: &str,
    timeout: Duration,
    mut accept: impl FnMut(&StreamPlacement) -> bool,
) -> Option<StreamPlacement> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(placement) = stream_placement(client, stream).await {
            if accept(&placement) {
                return Some(placement);
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        client.sleep_until((Instant::now() + POLL).min(deadline)).await;
    }
}
