//! One seeded run: a simulated three-server cluster, the clients of a workload, and the
//! chaos schedule, all drawn from the seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nats_client::ConnectOptions;

use super::core::{self, Faults};
use super::jetstream;
use crate::chaos::{Chaos, Fault};
use crate::{Cluster, Defects, Host, Net, NetConfig, ServerConfig, Sim};

/// Which workload a seed runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Core NATS: publish, subscribe (wildcards, queue groups), request ([`core`]).
    Core,
    /// JetStream: publish with retries, an ordered and a pull consumer ([`jetstream`]).
    JetStream,
}

impl Workload {
    /// Its name in the replay command (`NATS_SIM_WORKLOAD`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::JetStream => "jetstream",
        }
    }
}

/// What the workload counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counts {
    /// Of the core workload.
    Core(core::Counts),
    /// Of the JetStream workload.
    JetStream(jetstream::Counts),
}

/// What a seed's run did, when every invariant held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The run's trace hash: equal for every run of the seed.
    pub trace_hash: u64,
    /// Polls made.
    pub steps: u64,
    /// Virtual time the run took.
    pub virtual_time: Duration,
    /// The faults applied.
    pub faults: Vec<Fault>,
    /// Whether the clients authenticated as an nkey user, signing each connection's nonce.
    pub nkey_user: bool,
    /// What the workload counted.
    pub counts: Counts,
}

/// The nkey user whose key `seed`'s clients authenticate with, for about a quarter of the
/// seeds (each connection then signs its server's nonce). Drawn from the seed apart from
/// the run's generator, so that the choice moves none of the run's other draws.
pub(crate) fn nkey_user(seed: u64) -> Option<nkeys::KeyPair> {
    let mut rng = crate::rng::Rng::new(seed ^ u64::from_be_bytes(*b"signed\0\0"));
    if !rng.chance(25) {
        return None;
    }
    let mut raw = [0u8; 32];
    rng.fill(&mut raw);
    nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::User, raw).ok()
}

/// A seed whose run broke an invariant, panicked or got stuck.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The workload.
    pub workload: Workload,
    /// The seed.
    pub seed: u64,
    /// What went wrong.
    pub message: String,
    /// The trace's last entries, when recorded.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} seed {} failed: {}", self.workload.name(), self.seed, self.message)?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(f, "replay: {}", replay_command(self.workload, self.seed))
    }
}

/// The one command that replays `seed` of `workload` with its trace printed.
pub fn replay_command(workload: Workload, seed: u64) -> String {
    format!(
        "NATS_SIM_WORKLOAD={} NATS_SIM_SEED={seed} cargo test -p nats-sim --test seeds replay -- --ignored --nocapture",
        workload.name()
    )
}

/// Runs `seed` of `workload` (keeping the last `trace_lines` trace entries as text).
///
/// # Errors
/// A [`Failure`] naming the seed when an invariant broke, a task panicked or the run got
/// stuck.
pub fn run_seed(workload: Workload, seed: u64, trace_lines: usize) -> Result<SeedOutcome, Failure> {
    run_seed_with(workload, seed, trace_lines, &Defects::default())
}

/// Runs `seed` of `workload` against servers with `defects`.
///
/// # Errors
/// As [`run_seed`].
pub fn run_seed_with(
    workload: Workload,
    seed: u64,
    trace_lines: usize,
    defects: &Defects,
) -> Result<SeedOutcome, Failure> {
    let sim = Sim::new(seed);
    sim.record_trace(trace_lines);
    let result = catch_unwind(AssertUnwindSafe(|| simulate(&sim, workload, seed, defects)));
    let fail = |message: String| Failure { workload, seed, message, trace: sim.trace_text() };
    match result {
        Ok(Ok((faults, counts))) => Ok(SeedOutcome {
            seed,
            trace_hash: sim.trace_hash(),
            steps: sim.steps(),
            virtual_time: sim.elapsed(),
            faults,
            nkey_user: nkey_user(seed).is_some(),
            counts,
        }),
        Ok(Err(message)) => Err(fail(message)),
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(fail(format!("panicked: {text}")))
        }
    }
}

/// Runs the core workload on `servers` simulated servers with no fault (latency and
/// split reads and writes only), for comparison with a run against a real server.
///
/// # Errors
/// The violations, a panic's message, or why the run got stuck.
pub fn core_without_faults(
    seed: u64,
    servers: usize,
    plan: core::Plan,
) -> Result<(core::Report, core::Counts), String> {
    without_faults(seed, servers, false, core::CLIENTS, move |hosts, urls, options| {
        core::workload(hosts, urls, options, Faults::none(), plan)
    })
}

/// Runs the JetStream workload on `servers` simulated servers with no fault, for
/// comparison with a run against a real server.
///
/// # Errors
/// As [`core_without_faults`].
pub fn jetstream_without_faults(
    seed: u64,
    servers: usize,
    plan: jetstream::Plan,
) -> Result<(jetstream::Report, jetstream::Counts), String> {
    without_faults(seed, servers, true, jetstream::CLIENTS, move |hosts, urls, options| {
        jetstream::workload(hosts, urls, options, Faults::none(), plan)
    })
}

type Options = Box<dyn Fn(usize) -> ConnectOptions + Send>;

/// How often clients and servers PING each other in the seeded runs.
const PING_INTERVAL: Duration = Duration::from_secs(1);
/// Unanswered PINGs after which either side gives a connection up.
const MAX_PINGS_OUT: u32 = 2;

/// The faults the chaos applied, and when they were all healed.
type ChaosOutcome = (Vec<Fault>, Duration);

fn without_faults<Rep, C, Fut>(
    seed: u64,
    servers: usize,
    with_jetstream: bool,
    clients: usize,
    run: impl FnOnce(Vec<Host>, String, Options) -> Fut,
) -> Result<(Rep, C), String>
where
    Fut: std::future::Future<Output = (Rep, C, super::Violations)> + Send + 'static,
    Rep: Send + 'static,
    C: Send + 'static,
{
    let sim = Sim::new(seed);
    let go = || {
        let net = Net::new(sim.clone(), NetConfig::default());
        let config = ServerConfig { servers, jetstream: with_jetstream, ..ServerConfig::default() };
        let cluster = Cluster::new(&net, config);
        let hosts: Vec<Host> =
            (0..clients).map(|i| Host::new(&net, u32::try_from(i + 1).unwrap_or(u32::MAX))).collect();
        let options: Options = Box::new(move |i| ConnectOptions::new().rng_seed(seed ^ i as u64));
        let future = run(hosts, cluster.urls(), options);
        let (report, counts, violations) =
            sim.block_on(future, Duration::from_secs(600)).map_err(|stuck| stuck.to_string())?;
        if violations.is_empty() {
            Ok((report, counts))
        } else {
            Err(violations.0.join("; "))
        }
    };
    catch_unwind(AssertUnwindSafe(go)).unwrap_or_else(|_| Err(format!("seed {seed} panicked")))
}

fn simulate(
    sim: &Sim,
    workload: Workload,
    seed: u64,
    defects: &Defects,
) -> Result<(Vec<Fault>, Counts), String> {
    let (latency, split, max_pending, capacity, reader_pause) = sim.with_rng(|rng| {
        let lo = rng.between(20, 300);
        let hi = lo + rng.between(0, 3000);
        (
            (Duration::from_micros(lo), Duration::from_micros(hi)),
            rng.between(0, 60),
            usize::try_from(rng.between(32, 1024)).unwrap_or(64) * 1024,
            rng.chance(40).then(|| (rng.between(8, 128), rng.between(32, 512) * 1024)),
            Duration::from_millis(if rng.chance(50) { rng.between(1, 300) } else { 0 }),
        )
    });
    let net = Net::new(sim.clone(), NetConfig { latency, split_percent: split, ..NetConfig::default() });
    let user = nkey_user(seed);
    let cluster = Cluster::new(
        &net,
        ServerConfig {
            servers: 3,
            max_pending,
            ping_interval: PING_INTERVAL,
            ping_max: MAX_PINGS_OUT,
            lame_duck_grace: Duration::from_secs(1),
            jetstream: workload == Workload::JetStream,
            defects: defects.clone(),
            nkeys: user.iter().map(nkeys::KeyPair::public_key).collect(),
            ..ServerConfig::default()
        },
    );
    let user_seed = user.and_then(|key| key.seed().ok());
    let clients = match workload {
        Workload::Core => core::CLIENTS,
        Workload::JetStream => jetstream::CLIENTS,
    };
    let hosts: Vec<Host> =
        (0..clients).map(|i| Host::new(&net, u32::try_from(i + 1).unwrap_or(u32::MAX))).collect();
    let chaos = Chaos {
        until: Duration::from_secs(5),
        gap: (Duration::from_millis(50), Duration::from_millis(700)),
        longest: Duration::from_secs(3),
        hosts: hosts.iter().map(Host::id).collect(),
    };
    let outcome: Arc<Mutex<Option<ChaosOutcome>>> = Arc::default();
    let start = {
        let (sim, net, cluster, outcome) = (sim.clone(), net.clone(), cluster.clone(), Arc::clone(&outcome));
        Box::new(move || {
            let offset = sim.elapsed();
            let chaos = Chaos { until: chaos.until + offset, ..chaos };
            sim.spawn(async move {
                let result = chaos.run(net, cluster).await;
                *outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
            });
        })
    };
    let healed = {
        let (sim, outcome) = (sim.clone(), Arc::clone(&outcome));
        Box::pin(async move {
            loop {
                let done =
                    outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().map(|o| o.1);
                if let Some(at) = done {
                    // A client (or server) learns that a connection died with the fault
                    // only when its PINGs go unanswered: up to (outstanding + 1) ping
                    // intervals after the fault ended, the PONGs still in flight. The
                    // quiet phase starts once that can no longer happen.
                    sim.sleep_until(at + PING_INTERVAL * (MAX_PINGS_OUT + 1)).await;
                    break;
                }
                sim.sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let options = move |i: usize| {
        let options = ConnectOptions::new()
            .rng_seed(seed ^ (i as u64).wrapping_mul(0x9e37_79b9))
            .ping_interval(PING_INTERVAL)
            .max_pings_outstanding(MAX_PINGS_OUT)
            .reconnect_time_wait(Duration::from_millis(50))
            .connection_timeout(Duration::from_secs(1))
            .max_reconnect_attempts(None)
            .drain_timeout(Duration::from_secs(5));
        let options = match &user_seed {
            Some(seed) => options.nkey(seed.clone()),
            None => options,
        };
        match capacity {
            Some((messages, bytes)) => options.subscription_capacity(messages, bytes),
            None => options,
        }
    };
    let faults = Faults { start, healed };
    let limit = Duration::from_secs(600);
    let stuck = |stuck: crate::Stuck| stuck.to_string();
    let (violations, counts) = match workload {
        Workload::Core => {
            let plan = core::Plan { reader_pause, ..core::Plan::default() };
            let run = core::workload(hosts, cluster.urls(), options, faults, plan);
            let (_, counts, violations) = sim.block_on(run, limit).map_err(stuck)?;
            (violations, Counts::Core(counts))
        }
        Workload::JetStream => {
            let run = jetstream::workload(hosts, cluster.urls(), options, faults, jetstream::Plan::default());
            let (_, counts, violations) = sim.block_on(run, limit).map_err(stuck)?;
            (violations, Counts::JetStream(counts))
        }
    };
    if !violations.is_empty() {
        return Err(violations.0.join("; "));
    }
    let faults = outcome
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .map(|o| o.0)
        .unwrap_or_default();
    Ok((faults, counts))
}
