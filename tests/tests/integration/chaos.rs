//! JetStream in a three-node cluster under faults: the harness itself, and a
//! short workload under a nemesis checked from recorded histories (`short_run`, about 30 s
//! on each runtime), and the long run `scripts/chaos.sh` starts (`long_run`, ignored here,
//! its length from `CHAOS_MINUTES`).
//!
//! The clustered tests take turns ([`one_cluster_at_a_time`]): three nodes each under
//! faults are load enough on a CI machine with two cores, and elections are what they
//! measure.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nats_client::Runtime;
use nats_integration_tests::chaos::checker;
use nats_integration_tests::chaos::cluster::{
    client_options, wait_for_leader, JetStreamCluster, ELECTION_DEADLINE,
};
use nats_integration_tests::chaos::workload::{self, Workload};
use nats_integration_tests::{connect_with, within};
use nats_jetstream::proto::{PublishRetry, StreamConfig};
use nats_jetstream::{Publish, PublishError};

/// One clustered test at a time (the others wait their turn; a failed one does not block
/// them).
fn one_cluster_at_a_time() -> MutexGuard<'static, ()> {
    static CLUSTER: Mutex<()> = Mutex::new(());
    CLUSTER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The harness: an R3 stream gets a leader, a killed leader is replaced, a paused one too,
/// and restarted nodes catch up.
async fn harness<R: Runtime>(rt: R) {
    let mut cluster = JetStreamCluster::start(3);
    let client = connect_with(&rt, &cluster.urls(), client_options()).await;
    let js = nats_jetstream::new(client.clone());
    let mut config = StreamConfig::new("HARNESS").subjects(["harness.>"]);
    config.num_replicas = 3;
    // The meta leader may still be elected: retry creation within the election bound.
    let deadline = std::time::Instant::now() + ELECTION_DEADLINE;
    loop {
        match js.create_stream(config.clone()).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("create stream: {e}; again");
                client.sleep_until(std::time::Instant::now() + Duration::from_millis(200)).await;
            }
            Err(e) => panic!("create stream: {e}"),
        }
    }
    let first = wait_for_leader(&client, "HARNESS", ELECTION_DEADLINE, |_| true).await.expect("a leader");
    let leader = cluster.node_by_name(&first.leader).expect("a node name");
    within(&rt, "publish", async { js.publish("harness.a", "1".into()).await.unwrap().await.unwrap() }).await;

    cluster.kill(leader);
    let second = wait_for_leader(&client, "HARNESS", ELECTION_DEADLINE, |p| p.leader != first.leader)
        .await
        .expect("a new leader after a kill");
    assert_eq!(second.last_seq, 1);
    cluster.restart(leader);
    let all_current = |p: &nats_integration_tests::chaos::cluster::StreamPlacement| {
        p.replicas.len() == 2 && p.replicas.iter().all(|(_, current)| *current)
    };
    wait_for_leader(&client, "HARNESS", ELECTION_DEADLINE, all_current)
        .await
        .expect("the restarted node catches up");

    let paused = cluster.node_by_name(&second.leader).expect("a node name");
    cluster.pause(paused);
    let third = wait_for_leader(&client, "HARNESS", ELECTION_DEADLINE, |p| p.leader != second.leader)
        .await
        .expect("a new leader after a pause");
    cluster.resume(paused);
    wait_for_leader(&client, "HARNESS", ELECTION_DEADLINE, all_current)
        .await
        .expect("the resumed node catches up");
    assert_ne!(third.leader, second.leader);
}

#[test]
fn harness_tokio() {
    let _turn = one_cluster_at_a_time();
    // Five waits for an election or a catch-up, each bounded by the server's guarantee.
    nats_integration_tests::run_tokio_for(ELECTION_DEADLINE * 6, harness);
}

/// A publish to a subject no stream captures is retried (no responders) and gives up with
/// that error once the next attempt would start after the deadline.
async fn publish_retry_gives_up_at_the_deadline<R: Runtime>(rt: R) {
    let server = nats_integration_tests::NatsServer::jetstream();
    let client = nats_integration_tests::connect(&rt, &server.url()).await;
    let js = nats_jetstream::new(client);
    // Enough attempts to outlast the wait's bound (10 s) many times over: only the deadline
    // ends the retries in time.
    let retry = PublishRetry::new(1000, Duration::from_millis(50), Duration::from_millis(50));
    let start = std::time::Instant::now();
    let result = within(
        &rt,
        "publish with retry",
        js.send_publish_with_retry(
            "nostream.x",
            Publish::new().payload("x".into()).message_id("x-1"),
            retry,
            Duration::from_millis(600),
        ),
    )
    .await;
    let elapsed = start.elapsed();
    assert_eq!(result.unwrap_err(), PublishError::NoResponders);
    // About eleven attempts 50 ms apart: not given up before the deadline was near.
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
}

#[test]
fn publish_retry_gives_up_at_the_deadline_tokio() {
    nats_integration_tests::run_tokio(publish_retry_gives_up_at_the_deadline);
}

/// The bound of a short run (a hang guard, not a speed claim): 30 s of workload, the
/// final settle (20 s), and the nemesis going on past the workload for its fewest faults,
/// the consumers' catch-up and the last election, each bounded by [`ELECTION_DEADLINE`].
const SHORT_BOUND: Duration = Duration::from_secs(30 + 20 + 3 * ELECTION_DEADLINE.as_secs() + 30);

/// Runs the workload, prints the table, and asserts the promises.
async fn checked_run<R: Runtime>(rt: R, workload: Workload) {
    let started = std::time::Instant::now();
    let history = workload::run(&rt, &workload).await;
    let report = checker::check(&history);
    println!("{report}");
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    assert!(report.faults >= 3, "too few faults injected: {report}");
    assert!(report.acked > 0, "nothing acknowledged: {report}");
    assert_eq!((report.lost, report.misplaced, report.duplicates), (0, 0, 0), "{report}");
    assert!(report.ok(), "{report}");
}

async fn short_run<R: Runtime>(rt: R) {
    checked_run(rt, Workload::short()).await;
}

mod short_run {
    use super::*;

    #[test]
    fn tokio() {
        let _turn = one_cluster_at_a_time();
        nats_integration_tests::run_tokio_for(SHORT_BOUND, short_run);
    }

    #[test]
    fn smol() {
        let _turn = one_cluster_at_a_time();
        nats_integration_tests::run_smol_for(SHORT_BOUND, short_run);
    }

    #[test]
    fn async_std() {
        let _turn = one_cluster_at_a_time();
        nats_integration_tests::run_async_std_for(SHORT_BOUND, short_run);
    }
}

/// The long run: `CHAOS_MINUTES` minutes (default 10) on tokio; `scripts/chaos.sh` runs it.
#[test]
#[ignore = "minutes long: scripts/chaos.sh runs it"]
fn long_run() {
    let minutes: u64 = std::env::var("CHAOS_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(10);
    let mut workload = Workload::short();
    workload.duration = Duration::from_secs(minutes * 60);
    workload.fault_interval = Duration::from_secs(5);
    workload.final_settle = Duration::from_secs(120);
    // CHAOS_RETRY=attempts,backoff_ms,max_backoff_ms: another retry policy for the
    // synchronous publishers, to compare with the default.
    if let Ok(policy) = std::env::var("CHAOS_RETRY") {
        let n: Vec<u64> =
            policy.split(',').map(|n| n.trim().parse().expect("CHAOS_RETRY: three numbers")).collect();
        let [attempts, backoff, max] = n[..] else {
            panic!("CHAOS_RETRY: attempts,backoff_ms,max_backoff_ms")
        };
        workload.publish_retry = PublishRetry::new(
            u32::try_from(attempts).unwrap_or(u32::MAX),
            Duration::from_millis(backoff),
            Duration::from_millis(max),
        );
    }
    println!("synchronous publishers retry with {:?}", workload.publish_retry);
    let _turn = one_cluster_at_a_time();
    nats_integration_tests::run_tokio_for(workload.duration + SHORT_BOUND + Duration::from_secs(100), |rt| {
        checked_run(rt, workload)
    });
}
