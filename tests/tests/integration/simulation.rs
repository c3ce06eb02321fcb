//! The simulation's servers checked against a real one: the core workload of nats-sim,
//! without faults, on a real nats-server and on one and on three simulated servers; the
//! clients must see the same thing (every message, in order per publisher; every request
//! answered; a request nobody serves; an oversized publish refused). Likewise the JetStream
//! workload, and authorization: a refused token, an nkey user signing the INFO's nonce.

use std::time::Duration;

use nats_client::{ConnectOptions, Runtime, ServerInfo};
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

/// Connects to one simulated server of `config` with `options` and flushes: the server's
/// latest INFO by then, or the error's text with the server's address as `SERVER`.
fn connect_simulated(config: nats_sim::ServerConfig, options: ConnectOptions) -> Result<ServerInfo, String> {
    let sim = nats_sim::Sim::new(1);
    let net = nats_sim::Net::new(sim.clone(), nats_sim::NetConfig::default());
    let cluster = nats_sim::Cluster::new(&net, config);
    let host = nats_sim::Host::new(&net, 1);
    let connected = async move {
        let client = nats_client::connect_with_runtime(host, &cluster.urls(), options).await;
        latest_info(client).await
    };
    let result = sim.block_on(connected, Duration::from_secs(60)).expect("the run ends");
    result.map_err(|e| e.replace("s0:4222", "SERVER"))
}

/// As [`connect_simulated`], on the real `server`.
async fn connect_real<R: Runtime>(
    rt: R,
    server: &NatsServer,
    options: ConnectOptions,
) -> Result<ServerInfo, String> {
    let client = nats_client::connect_with_runtime(rt, &server.url(), options).await;
    latest_info(client).await.map_err(|e| e.replace(&server.url()[7..], "SERVER"))
}

/// After a round trip: the latest INFO (nats-server 2.12+ sends one after its first PONG).
async fn latest_info(
    client: Result<nats_client::Client, nats_client::ConnectError>,
) -> Result<ServerInfo, String> {
    let client = client.map_err(|e| e.to_string())?;
    client.flush().await.map_err(|e| e.to_string())?;
    client.server_info().ok_or_else(|| "no INFO".to_owned())
}

/// What a client learns from the INFOs of both: the account it is bound to, and whether
/// the latest INFO still carries the nonce.
fn learned(info: &ServerInfo) -> (Option<String>, bool, bool, bool) {
    (info.remote_account.clone(), info.is_system_account, info.auth_required, info.nonce.is_some())
}

runtime_tests!(a_refused_token_reads_the_same_from_a_real_server_and_a_simulated_one);

async fn a_refused_token_reads_the_same_from_a_real_server_and_a_simulated_one<R: Runtime>(rt: R) {
    use nats_integration_tests::{ServerAuth, ServerConfig};

    let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::Token("s3cret".into())));
    let options = || ConnectOptions::new().token("nope");
    let real = connect_real(rt, &server, options()).await.expect_err("the real server refuses the token");
    assert!(real.contains("Authorization Violation"), "{real}");
    let config = nats_sim::ServerConfig { token: Some("s3cret".into()), ..nats_sim::ServerConfig::default() };
    assert_eq!(connect_simulated(config, options()), Err(real));
}

runtime_tests!(an_nkey_user_reads_the_same_from_a_real_server_and_a_simulated_one);

/// An nkey user: both servers send a nonce of the same shape, accept its signature, tell
/// the client the same account (2.12+), and refuse an unknown key and a CONNECT without
/// one with the same error.
async fn an_nkey_user_reads_the_same_from_a_real_server_and_a_simulated_one<R: Runtime>(rt: R) {
    use nats_integration_tests::{NKeyUser, ServerAuth, ServerConfig};

    let (user, stranger) = (NKeyUser::generate(), NKeyUser::generate());
    let server = NatsServer::start(ServerConfig::new().auth(ServerAuth::NKeys(vec![user.public.clone()])));
    let config =
        nats_sim::ServerConfig { nkeys: vec![user.public.clone()], ..nats_sim::ServerConfig::default() };
    // The nonces the user signed, through the credentials callback.
    let signed = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let signing = |signed: std::sync::Arc<std::sync::Mutex<Vec<String>>>| {
        let key = nkeys::KeyPair::from_seed(&user.seed).expect("a user seed");
        ConnectOptions::new().auth_callback(move |nonce: Vec<u8>| {
            let credentials = key
                .sign(&nonce)
                .map(|sig| nats_client::Credentials::new().with_nkey(key.public_key()).with_signature(&sig));
            signed.lock().unwrap().push(String::from_utf8_lossy(&nonce).into_owned());
            std::future::ready(credentials)
        })
    };
    let real = connect_real(rt.clone(), &server, signing(signed.clone()))
        .await
        .expect("the real server accepts the user");
    // The simulated server behaves as the real one's version does (2.12+: the account).
    let config = nats_sim::ServerConfig { version: real.version.clone(), ..config };
    let simulated = connect_simulated(config.clone(), signing(signed.clone()))
        .expect("the simulated server accepts the user");
    assert_eq!(learned(&simulated), learned(&real), "{simulated:?} against {real:?}");
    let real = connect_real(rt.clone(), &server, ConnectOptions::new().nkey(user.seed.clone()))
        .await
        .expect("the real server accepts the user's seed");
    let simulated = connect_simulated(config.clone(), ConnectOptions::new().nkey(user.seed.clone()))
        .expect("the simulated server accepts the user's seed");
    assert_eq!(learned(&simulated), learned(&real), "{simulated:?} against {real:?}");
    // Both nonces are 11 random bytes in base64url without padding.
    let shape = |nonce: &String| {
        (nonce.len(), nonce.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'))
    };
    let shapes: Vec<_> = signed.lock().unwrap().iter().map(shape).collect();
    assert_eq!(shapes, [(15, true), (15, true)], "{:?}", signed.lock().unwrap());
    for refused in [ConnectOptions::new().nkey(stranger.seed.clone()), ConnectOptions::new()] {
        let real =
            connect_real(rt.clone(), &server, refused.clone()).await.expect_err("the real server refuses");
        assert!(real.contains("Authorization Violation"), "{real}");
        assert_eq!(connect_simulated(config.clone(), refused), Err(real));
    }
}
