//! Write-through: once connected, requests and flushes write their own bytes to the socket
//! from the requesting task while the driver writes publishes. These scenarios check that
//! the two writers lose and reorder nothing: concurrent publishers and requesters, the
//! server killed during heavy writes, and a server that stops reading (paused) while
//! publishers fill the socket and requests wait behind them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nats_client::{Client, ClientEvent, ConnectOptions, Message, Runtime, Subscriber};
use nats_integration_tests::{
    connect, connect_with, echo, fast_reconnect, next_message, runtime_tests, wait_for_event, within,
    NatsServer,
};

runtime_tests!(concurrent_writers, server_killed_during_heavy_writes, server_stops_reading);

/// Publishers per scenario, each on its own task.
const TASKS: usize = 4;

/// A server, an echo service on `svc.echo` and a receiver subscribed to `wt.>` (every
/// scenario's setup), each client connected with `options`.
async fn setup<R: Runtime>(
    rt: &R,
    server: &NatsServer,
    options: &ConnectOptions,
) -> (Client, Client, Subscriber) {
    let service = connect_with(rt, &server.url(), options.clone()).await;
    echo(rt, &service, "svc.echo").await;
    let receiver = connect_with(rt, &server.url(), options.clone()).await;
    let sub = receiver.subscribe("wt.>").await.unwrap();
    within(rt, "flush", receiver.flush()).await.unwrap();
    (service, receiver, sub)
}

/// `task.seq[.filler]` payloads per publishing task: checks that each task's sequence only
/// grows (no reorder, no duplicate) and returns how many arrived per task; ends at `TASKS`
/// "done" messages.
async fn receive_until_done<R: Runtime>(rt: &R, sub: &mut Subscriber, what: &str) -> HashMap<usize, usize> {
    let mut last: HashMap<usize, u64> = HashMap::new();
    let mut counts: HashMap<usize, usize> = HashMap::new();
    let mut done = 0;
    while done < TASKS {
        let msg: Message = next_message(rt, sub).await;
        if msg.subject.as_str() == "wt.done" {
            done += 1;
            continue;
        }
        let text = std::str::from_utf8(&msg.payload).expect("UTF-8");
        let mut parts = text.splitn(3, '.');
        let task: usize = parts.next().unwrap().parse().unwrap();
        let seq: u64 = parts.next().expect("task.seq").parse().unwrap();
        if let Some(&previous) = last.get(&task) {
            assert!(seq > previous, "{what}: task {task} sent {seq} after {previous}");
        }
        last.insert(task, seq);
        *counts.entry(task).or_default() += 1;
    }
    counts
}

/// Publishes `count` messages as `task`, a request every `request_every`, then "done";
/// counts failed requests in `failures` (when `requests_must_succeed`; otherwise a request
/// lost with the connection waits 1 s).
#[allow(clippy::too_many_arguments)]
fn spawn_writer<R: Runtime>(
    rt: &R,
    client: &Client,
    task: usize,
    count: u64,
    request_every: u64,
    requests_must_succeed: bool,
    failures: &Arc<AtomicUsize>,
    stop: Option<Arc<AtomicBool>>,
) {
    let client = client.clone();
    let failures = Arc::clone(failures);
    rt.spawn(async move {
        let mut seq = 0;
        while seq < count && !stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
            seq += 1;
            let payload = Bytes::from(format!("{task}.{seq}"));
            if client.publish(format!("wt.p.{task}"), payload.clone()).await.is_err() {
                failures.fetch_add(1, Ordering::SeqCst);
            }
            if seq % request_every == 0 {
                let timeout = Duration::from_secs(if requests_must_succeed { 30 } else { 1 });
                let reply = client.request_with("svc.echo", None, payload.clone(), timeout).await;
                let ok = reply.as_ref().is_ok_and(|r| r.payload == payload);
                if !ok && requests_must_succeed {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
            }
            if seq % (request_every * 3) == 0 && client.flush().await.is_err() && requests_must_succeed {
                failures.fetch_add(1, Ordering::SeqCst);
            }
        }
        // "done" must arrive: retry through a reconnect.
        publish_done(&client, true).await;
    });
}

/// Publishes "done" (and flushes it, with `flush`) until that succeeds, 10 ms apart. A
/// failed attempt returns at once while disconnected, so a task retrying without waiting
/// would never yield, and on a single-threaded executor (smol's global one) the driver
/// that reconnects would never run again: the task would spin for the rest of the process
/// and every later test on that executor would starve.
async fn publish_done(client: &Client, flush: bool) {
    while client.publish("wt.done", Bytes::new()).await.is_err() || (flush && client.flush().await.is_err()) {
        client.sleep_until(client.now() + Duration::from_millis(10)).await;
    }
}

async fn concurrent_writers<R: Runtime>(rt: R) {
    const COUNT: u64 = 3_000;
    let server = NatsServer::plain();
    let (_service, _receiver, mut sub) = setup(&rt, &server, &ConnectOptions::new()).await;

    let client = connect(&rt, &server.url()).await;
    let failures = Arc::new(AtomicUsize::new(0));
    for task in 0..TASKS {
        spawn_writer(&rt, &client, task, COUNT, 20, true, &failures, None);
    }
    let counts = receive_until_done(&rt, &mut sub, "concurrent").await;
    assert_eq!(failures.load(Ordering::SeqCst), 0, "failed publishes, requests or flushes");
    for task in 0..TASKS {
        assert_eq!(
            counts.get(&task).copied(),
            Some(usize::try_from(COUNT).unwrap()),
            "task {task}: every message once"
        );
    }
}

async fn server_killed_during_heavy_writes<R: Runtime>(rt: R) {
    let mut server = NatsServer::plain();
    let (_service, receiver, mut sub) = setup(&rt, &server, &fast_reconnect()).await;
    let mut receiver_events = receiver.events();

    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let failures = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    for task in 0..TASKS {
        spawn_writer(&rt, &client, task, u64::MAX, 25, false, &failures, Some(Arc::clone(&stop)));
    }
    // Heavy writes under way: some of each task's messages arrived.
    let mut seen = [false; TASKS];
    while seen.iter().any(|s| !s) {
        let msg = next_message(&rt, &mut sub).await;
        if let Some((task, _)) = std::str::from_utf8(&msg.payload).unwrap().split_once('.') {
            seen[task.parse::<usize>().unwrap()] = true;
        }
    }
    server.stop();
    server.restart();
    let is_reconnected = |e: &ClientEvent| matches!(e, ClientEvent::Reconnected(_));
    wait_for_event(&rt, &mut events, "writer reconnected", is_reconnected).await;
    wait_for_event(&rt, &mut receiver_events, "receiver reconnected", is_reconnected).await;
    // The receiver may have missed messages while reconnecting; order is what is checked.
    let mut after = client.subscribe("wt.p.0").await.unwrap();
    next_message(&rt, &mut after).await;
    stop.store(true, Ordering::SeqCst);
    // Per-task order and no duplicates are checked as they arrive (messages lost with the
    // connection are allowed); every task's "done" arrives. Which tasks still publish between
    // the stop flag and their "done" depends on timing, so the counts are not compared.
    receive_until_done(&rt, &mut sub, "restart").await;
    assert_eq!(failures.load(Ordering::SeqCst), 0, "publishes never fail with reconnecting on");
}

async fn server_stops_reading<R: Runtime>(rt: R) {
    const COUNT: u64 = 2_500;
    let server = NatsServer::plain();
    let (_service, _receiver, mut sub) = setup(&rt, &server, &ConnectOptions::new()).await;
    // Pings would notice the frozen server; none during this scenario.
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().ping_interval(Duration::from_secs(600))).await;

    server.pause();
    // 4 x 2,500 x ~4 KB = 40 MB: far more than the client's high-water mark and the sockets'
    // buffers, so the writers block and wait for the server.
    let failures = Arc::new(AtomicUsize::new(0));
    let big = Arc::new(AtomicBool::new(false));
    for task in 0..TASKS {
        let client = client.clone();
        let failures = Arc::clone(&failures);
        let big = Arc::clone(&big);
        rt.spawn(async move {
            let filler = "x".repeat(4000);
            for seq in 1..=COUNT {
                let payload = Bytes::from(format!("{task}.{seq}.{filler}"));
                if client.publish(format!("wt.p.{task}"), payload).await.is_err() {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                if seq % 250 == 0 {
                    let reply =
                        client.request_with("svc.echo", None, "ping".into(), Duration::from_secs(60)).await;
                    if !reply.is_ok_and(|r| &r.payload[..] == b"ping") {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            big.store(true, Ordering::SeqCst);
            publish_done(&client, false).await;
        });
    }
    // Resume after a while: the publishers cannot have finished (the server reads nothing).
    rt.sleep_until(rt.now() + Duration::from_millis(500)).await;
    assert!(!big.load(Ordering::SeqCst), "40 MB went nowhere: the writers never blocked");
    server.resume();

    // In order (checked as they arrive) and COUNT of each of 1..=COUNT: every one, once.
    let counts = receive_until_done(&rt, &mut sub, "paused").await;
    for task in 0..TASKS {
        assert_eq!(
            counts.get(&task).copied(),
            Some(usize::try_from(COUNT).unwrap()),
            "task {task}: none lost"
        );
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0, "failed publishes or requests");
}
