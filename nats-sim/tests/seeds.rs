//! Seeded simulation runs: clients, network and servers under faults, each seed run twice
//! to prove that it replays (the same trace hash).
//!
//! `NATS_SIM_SEEDS=<n>` runs more seeds of each workload (from `NATS_SIM_FIRST`);
//! `NATS_SIM_WORKLOAD=<core|jetstream> NATS_SIM_SEED=<s>` replays one with its trace
//! printed (`replay`, ignored unless asked for; `NATS_SIM_TRACE_LINES=<n>` prints its last
//! `n` trace entries instead of 200).

use nats_sim::scenario::{run_seed, Counts, SeedOutcome, Workload};

/// Core seeds per `cargo test`: with the JetStream seeds, about two minutes of the two
/// CI cores in a debug build.
const CORE_SEEDS: u64 = 1000;
/// JetStream seeds per `cargo test`.
const JETSTREAM_SEEDS: u64 = 300;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs `seed` twice; panics with the replay command on a failure or a different trace.
fn check(workload: Workload, seed: u64) -> SeedOutcome {
    let first = run_seed(workload, seed, 0).unwrap_or_else(|failure| {
        let traced = run_seed(workload, seed, 40).err().unwrap_or(failure);
        panic!("{traced}")
    });
    let second = run_seed(workload, seed, 0).unwrap_or_else(|failure| panic!("second run: {failure}"));
    assert_eq!(
        first.trace_hash,
        second.trace_hash,
        "{} seed {seed} did not replay: trace {:016x} then {:016x}",
        workload.name(),
        first.trace_hash,
        second.trace_hash
    );
    assert_eq!(first, second);
    first
}

/// Runs `count` seeds of `workload` from `first` on every core; their outcomes.
fn run_all(workload: Workload, first: u64, count: u64) -> Vec<SeedOutcome> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8) as u64;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (first..first + count)
                        .filter(|s| s % workers == w)
                        .map(|s| check(workload, s))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

fn summary(workload: Workload, first: u64, outcomes: &[SeedOutcome]) {
    let mut faults = std::collections::BTreeMap::new();
    for outcome in outcomes {
        for fault in &outcome.faults {
            *faults.entry(format!("{fault:?}")).or_insert(0u64) += 1;
        }
    }
    let combined = outcomes.iter().fold(0u64, |acc, o| acc.rotate_left(5) ^ o.trace_hash);
    let counts: Vec<String> = match outcomes.first().map(|o| &o.counts) {
        Some(Counts::Core(_)) => {
            let sum = |f: fn(&nats_sim::scenario::core::Counts) -> u64| {
                outcomes.iter().map(|o| if let Counts::Core(c) = &o.counts { f(c) } else { 0 }).sum::<u64>()
            };
            vec![
                format!("{} deliveries", sum(|c| c.delivered)),
                format!("{} required by the invariants", sum(|c| c.required)),
                format!("{} requests answered", sum(|c| c.answered)),
                format!("{} failed during faults", sum(|c| c.failed_requests)),
            ]
        }
        Some(Counts::JetStream(_)) => {
            let sum = |f: fn(&nats_sim::scenario::jetstream::Counts) -> u64| {
                outcomes
                    .iter()
                    .map(|o| if let Counts::JetStream(c) = &o.counts { f(c) } else { 0 })
                    .sum::<u64>()
            };
            vec![
                format!("{} publishes acknowledged", sum(|c| c.acked)),
                format!("{} unknown", sum(|c| c.unknown)),
                format!("{} failed", sum(|c| c.failed)),
                format!("{} pull deliveries", sum(|c| c.pulled)),
                format!("{} key-value puts acknowledged", sum(|c| c.puts)),
            ]
        }
        None => Vec::new(),
    };
    let nkey_users = outcomes.iter().filter(|o| o.nkey_user).count();
    eprintln!(
        "{} seeds of {} from {first} ({nkey_users} as an nkey user), each run twice with the same trace: faults {faults:?}; {}; combined trace {combined:016x}",
        outcomes.len(),
        workload.name(),
        counts.join(", ")
    );
}

#[test]
fn core_seeds() {
    let first = env("NATS_SIM_FIRST").unwrap_or(0);
    let outcomes = run_all(Workload::Core, first, env("NATS_SIM_SEEDS").unwrap_or(CORE_SEEDS));
    summary(Workload::Core, first, &outcomes);
}

#[test]
fn jetstream_seeds() {
    let first = env("NATS_SIM_FIRST").unwrap_or(0);
    let outcomes = run_all(Workload::JetStream, first, env("NATS_SIM_SEEDS").unwrap_or(JETSTREAM_SEEDS));
    summary(Workload::JetStream, first, &outcomes);
}

/// Seeds that once failed, each with what it found; they run whatever the seed counts.
const REGRESSIONS: &[(Workload, u64, &str)] = &[
    (
        Workload::Core,
        59,
        "the client re-sent its subscriptions after the handshake's PONG: a message published right after \
         Reconnected could reach the server before them and miss them (fixed: they go with CONNECT)",
    ),
    (
        Workload::Core,
        115,
        "bytes left on a connection the client abandoned reached the old server after newer messages went \
         through the new one: only flushed messages are ordered across a reconnect (the check was too strict)",
    ),
    (
        Workload::Core,
        314,
        "a queue-group member's abandoned connection, not yet found dead by the server, took the group's \
         messages, as on a real server (the check was too strict)",
    ),
    (
        Workload::JetStream,
        0,
        "a publish whose only attempt timed out was stored: `Timeout` may be stored (the check was too strict)",
    ),
    (
        Workload::JetStream,
        1_006_383,
        "an ordered consumer asked for batches of 500 through an inbox holding 8 messages: the client \
         dropped the rest, and the consumer caught up 8 messages per heartbeat interval (fixed: its default \
         batch is lowered to the subscription's capacity)",
    ),
    (
        Workload::JetStream,
        17,
        "an ack whose confirmation was lost left nothing to redeliver (the check counted confirmed acks only)",
    ),
    (
        Workload::Core,
        2_034_152,
        "a client gave up a connection as stale a few milliseconds after the stall that starved it ended, \
         its PONGs still in flight, and the first flush of the quiet phase failed (the quiet phase now starts \
         once the clients have had the time to notice the faults)",
    ),
];

#[test]
fn regression_seeds() {
    for &(workload, seed, found) in REGRESSIONS {
        let outcome = std::panic::catch_unwind(|| check(workload, seed));
        assert!(outcome.is_ok(), "{} seed {seed}, which found: {found}", workload.name());
    }
}

/// Replays `NATS_SIM_SEED` of `NATS_SIM_WORKLOAD` with the end of its trace: the command
/// a failing seed prints.
#[test]
#[ignore = "replays the seed in NATS_SIM_SEED"]
fn replay() {
    let seed = env("NATS_SIM_SEED").expect("NATS_SIM_SEED=<seed> names the seed to replay");
    let workload = match std::env::var("NATS_SIM_WORKLOAD").as_deref() {
        Ok("jetstream") => Workload::JetStream,
        _ => Workload::Core,
    };
    match run_seed(
        workload,
        seed,
        env("NATS_SIM_TRACE_LINES").map_or(200, |n| usize::try_from(n).unwrap_or(usize::MAX)),
    ) {
        Ok(outcome) => eprintln!("seed {seed} held: {outcome:#?}"),
        Err(failure) => panic!("{failure}"),
    }
}

/// The invariants are not vacuous: servers that lose or repeat messages fail them, and
/// the failure names its seed and the command that replays it.
#[test]
fn the_checks_catch_servers_that_drop_or_repeat_messages() {
    use nats_sim::scenario::run_seed_with;
    use nats_sim::Defects;

    let dropping = Defects { drop_every: Some(97), ..Defects::default() };
    let failure =
        run_seed_with(Workload::Core, 3, 5, &dropping).expect_err("a dropping server fails the run");
    assert!(
        failure.message.contains("never reached") || failure.message.contains("not delivered"),
        "{failure}"
    );
    assert_eq!(failure.trace.len(), 5, "the trace's last entries");
    let again = run_seed_with(Workload::Core, 3, 5, &dropping).expect_err("it fails again");
    assert_eq!(
        (&again.message, &again.trace),
        (&failure.message, &failure.trace),
        "the same failure, the same trace"
    );
    assert!(failure.to_string().contains("NATS_SIM_WORKLOAD=core NATS_SIM_SEED=3 cargo test"), "{failure}");

    let repeating = Defects { duplicate_every: Some(97), ..Defects::default() };
    let failure =
        run_seed_with(Workload::Core, 3, 0, &repeating).expect_err("a repeating server fails the run");
    assert!(failure.message.contains("twice"), "{failure}");
}
