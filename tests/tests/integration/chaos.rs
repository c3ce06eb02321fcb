//! JetStream in a three-node cluster under faults (issue 16): the harness itself, and a
//! short workload under a nemesis checked from recorded histories.

use std::time::Duration;

use nats_client::Runtime;
use nats_integration_tests::chaos::cluster::{wait_for_leader, JetStreamCluster};
use nats_integration_tests::{connect_with, fast_reconnect, within};
use nats_jetstream::proto::{PublishRetry, StreamConfig};
use nats_jetstream::{Publish, PublishError};

/// How long an election may take before a test fails.
const ELECTION: Duration = Duration::from_secs(20);

/// The harness: an R3 stream gets a leader, a killed leader is replaced, a paused one too,
/// and restarted nodes catch up.
async fn harness<R: Runtime>(rt: R) {
    let mut cluster = JetStreamCluster::start(3);
    let client = connect_with(&rt, &cluster.urls(), fast_reconnect()).await;
    let js = nats_jetstream::new(client.clone());
    let mut config = StreamConfig::new("HARNESS").subjects(["harness.>"]);
    config.num_replicas = 3;
    // The meta leader may still be elected: retry creation within the election bound.
    let deadline = std::time::Instant::now() + ELECTION;
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
    let first = wait_for_leader(&client, "HARNESS", ELECTION, |_| true).await.expect("a leader");
    let leader = cluster.node_by_name(&first.leader).expect("a node name");
    within(&rt, "publish", async { js.publish("harness.a", "1").await.unwrap().await.unwrap() }).await;

    cluster.kill(leader);
    let second = wait_for_leader(&client, "HARNESS", ELECTION, |p| p.leader != first.leader)
        .await
        .expect("a new leader after a kill");
    assert_eq!(second.last_seq, 1);
    cluster.restart(leader);
    let all_current = |p: &nats_integration_tests::chaos::cluster::StreamPlacement| {
        p.replicas.len() == 2 && p.replicas.iter().all(|(_, current)| *current)
    };
    wait_for_leader(&client, "HARNESS", ELECTION, all_current).await.expect("the restarted node catches up");

    let paused = cluster.node_by_name(&second.leader).expect("a node name");
    cluster.pause(paused);
    let third = wait_for_leader(&client, "HARNESS", ELECTION, |p| p.leader != second.leader)
        .await
        .expect("a new leader after a pause");
    cluster.resume(paused);
    wait_for_leader(&client, "HARNESS", ELECTION, all_current).await.expect("the resumed node catches up");
    assert_ne!(third.leader, second.leader);
}

#[test]
fn harness_tokio() {
    nats_integration_tests::run_tokio(harness);
}

/// A publish to a subject no stream captures is retried (no responders) and gives up with
/// that error once the next attempt would start after the deadline.
async fn publish_retry_gives_up_at_the_deadline<R: Runtime>(rt: R) {
    let server = nats_integration_tests::NatsServer::jetstream();
    let client = nats_integration_tests::connect(&rt, &server.url()).await;
    let js = nats_jetstream::new(client);
    let retry = PublishRetry::new(100, Duration::from_millis(50), Duration::from_millis(50));
    let start = std::time::Instant::now();
    let result = within(
        &rt,
        "publish with retry",
        js.send_publish_with_retry(
            "nostream.x",
            Publish::new().payload("x").message_id("x-1"),
            retry,
            Duration::from_millis(600),
        ),
    )
    .await;
    let elapsed = start.elapsed();
    assert_eq!(result.unwrap_err(), PublishError::NoResponders);
    // About eleven attempts 50 ms apart, none after the deadline.
    assert!(elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn publish_retry_gives_up_at_the_deadline_tokio() {
    nats_integration_tests::run_tokio(publish_retry_gives_up_at_the_deadline);
}
