//! The simulation's servers checked against a real one: the core workload of nats-sim,
//! without faults, on a real nats-server and on one and on three simulated servers; the
//! clients must see the same thing (every message, in order per publisher; every request
//! answered; a request nobody serves; an oversized publish refused).

use std::time::Duration;

use nats_client::{ConnectOptions, Runtime};
use nats_integration_tests::{runtime_tests, NatsServer};
use nats_sim::scenario::core::{workload, Faults, Plan, CLIENTS};
use nats_sim::scenario::core_without_faults;

runtime_tests!(the_core_workload_sees_on_a_real_server_what_it_sees_simulated);

async fn the_core_workload_sees_on_a_real_server_what_it_sees_simulated<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // Real time: a generous request timeout, and no check of timing to the millisecond.
    let plan = Plan {
        rounds: 5,
        gap: Duration::from_millis(10),
        request_timeout: Duration::from_secs(10),
        exact_time: false,
        ..Plan::default()
    };
    let runtimes = vec![rt; CLIENTS];
    let (real, counts, violations) =
        workload(runtimes, server.url(), |_| ConnectOptions::new(), Faults::none(), plan.clone()).await;
    assert!(violations.is_empty(), "against the real server: {violations:?}");
    assert!(real.drained, "every client drained");
    assert_eq!(counts.answered, 5 * 3 + 3, "every request answered: {:?}", real.requests);
    assert_eq!(counts.delivered, 4 * 60 + 2 * 60 + 2 * 60, "every message delivered once");
    assert_eq!(real.unserved, "NoResponders");
    assert!(real.oversized.starts_with("Err(\"MaxPayload"), "{}", real.oversized);
    for servers in [1, 3] {
        let (simulated, _) = core_without_faults(7, servers, plan.clone()).expect("the simulated run holds");
        let same = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "{what}: {servers} simulated server(s) against the real one"
            );
        };
        same("sim.>", &simulated.wildcard, &real.wildcard);
        same("sim.*.x", &simulated.single_token, &real.single_token);
        same("the queue group", &simulated.queue_group, &real.queue_group);
        same("requests", &simulated.requests, &real.requests);
        same("unserved", &simulated.unserved, &real.unserved);
        same("oversized", &simulated.oversized, &real.oversized);
        assert_eq!(simulated, real);
    }
}

runtime_tests!(the_jetstream_workload_sees_on_a_real_server_what_it_sees_simulated);

async fn the_jetstream_workload_sees_on_a_real_server_what_it_sees_simulated<R: Runtime>(rt: R) {
    use nats_sim::scenario::jetstream::{workload, Plan, CLIENTS};
    use nats_sim::scenario::jetstream_without_faults;

    let server = NatsServer::jetstream();
    let plan =
        Plan { messages: 30, gap: Duration::from_millis(5), publish_deadline: Duration::from_secs(10) };
    let runtimes = vec![rt; CLIENTS];
    let (real, counts, violations) =
        workload(runtimes, server.url(), |_| ConnectOptions::new(), Faults::none(), plan.clone()).await;
    assert!(violations.is_empty(), "against the real server: {violations:?}");
    assert_eq!((counts.acked, counts.unknown, counts.failed), (30, 0, 0), "{real:?}");
    assert_eq!(real.ordered, (1..=30).collect::<Vec<u64>>());
    let updates: Vec<(u64, String)> = (0..20).map(|n| (n + 1, format!("v{n}"))).collect();
    assert_eq!(real.watched, updates, "every key-value update, once, in order");
    assert!(real.drained);
    for servers in [1, 3] {
        let (simulated, _) =
            jetstream_without_faults(7, servers, plan.clone()).expect("the simulated run holds");
        assert_eq!(simulated, real, "{servers} simulated server(s) against the real one");
    }
}

runtime_tests!(a_refused_token_reads_the_same_from_a_real_server_and_a_simulated_one);

async fn a_refused_token_reads_the_same_from_a_real_server_and_a_simulated_one<R: Runtime>(rt: R) {
    use nats_integration_tests::{ServerAuth, ServerConfig};

    let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::Token("s3cret".into())));
    let options = || ConnectOptions::new().token("nope");
    let real =
        nats_client::connect_with_runtime(rt, &server.url(), options()).await.err().map(|e| e.to_string());

    let sim = nats_sim::Sim::new(1);
    let net = nats_sim::Net::new(sim.clone(), nats_sim::NetConfig::default());
    let config = nats_sim::ServerConfig { token: Some("s3cret".into()), ..nats_sim::ServerConfig::default() };
    let cluster = nats_sim::Cluster::new(&net, config);
    let host = nats_sim::Host::new(&net, 1);
    let simulated = sim
        .block_on(
            async move {
                nats_client::connect_with_runtime(host, &cluster.urls(), options())
                    .await
                    .err()
                    .map(|e| e.to_string())
            },
            Duration::from_secs(60),
        )
        .expect("the run ends");
    let real = real.expect("the real server refuses the token");
    assert!(real.contains("Authorization Violation"), "{real}");
    // The servers' addresses differ; the errors must not otherwise.
    assert_eq!(
        simulated.map(|e| e.replace("s0:4222", "SERVER")),
        Some(real.replace(&server.url()[7..], "SERVER"))
    );
}
