//! Seeded simulation runs: clients, network and servers under faults, each seed run twice
//! to prove that it replays (the same trace hash).
//!
//! `NATS_SIM_SEEDS=<n>` runs more seeds (from `NATS_SIM_FIRST`); `NATS_SIM_SEED=<s>`
//! replays one with its trace printed (`replay`).

use nats_sim::scenario::{run_seed, SeedOutcome};

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs `seed` twice; panics with the replay command on a failure or a different trace.
fn check(seed: u64) -> SeedOutcome {
    let first = run_seed(seed, 0).unwrap_or_else(|failure| {
        let traced = run_seed(seed, 40).err().unwrap_or(failure);
        panic!("{traced}")
    });
    let second = run_seed(seed, 0).unwrap_or_else(|failure| panic!("second run: {failure}"));
    assert_eq!(
        first.trace_hash, second.trace_hash,
        "seed {seed} did not replay: trace {:016x} then {:016x}",
        first.trace_hash, second.trace_hash
    );
    assert_eq!(first, second);
    first
}

#[test]
fn seeds() {
    let count = env("NATS_SIM_SEEDS").unwrap_or(20);
    let first = env("NATS_SIM_FIRST").unwrap_or(0);
    let mut faults = 0;
    let mut delivered = 0;
    for seed in first..first + count {
        let outcome = check(seed);
        faults += outcome.faults.len();
        delivered += outcome.counts.delivered;
    }
    eprintln!("{count} seeds from {first}, each twice: {faults} faults, {delivered} deliveries, all invariants held");
}

#[test]
fn replay() {
    let Some(seed) = env("NATS_SIM_SEED") else { return };
    match run_seed(seed, 200) {
        Ok(outcome) => eprintln!("seed {seed} held: {outcome:#?}"),
        Err(failure) => panic!("{failure}"),
    }
}
