//! The layers above JetStream on the simulation: an object stored in chunks and read back
//! across a server restart, and a service answering until it stops. Fixed seeds.

use std::time::Duration;

use futures_util::StreamExt;
use nats_client::{ConnectOptions, RequestError};
use nats_service::ServiceExt;
use nats_sim::{Cluster, Host, Net, NetConfig, ServerConfig, Sim};
use nats_stores::object_store::proto::ObjectStoreConfig;
use nats_stores::ObjectStoreExt;

fn run<F: std::future::Future<Output = ()> + Send + 'static>(
    seed: u64,
    scenario: impl FnOnce(Net, Cluster) -> F,
) -> u64 {
    let sim = Sim::new(seed);
    let net = Net::new(sim.clone(), NetConfig::default());
    let cluster = Cluster::new(&net, ServerConfig { servers: 2, jetstream: true, ..ServerConfig::default() });
    sim.block_on(scenario(net, cluster), Duration::from_secs(120)).expect("the run ends");
    sim.trace_hash()
}

#[test]
fn an_object_in_chunks_reads_back_whole_after_a_server_restart() {
    let scenario = |net: Net, cluster: Cluster| async move {
        // A fixed seed: the client's random choices (server order, tokens) replay too.
        let options = ConnectOptions::new().rng_seed(1).reconnect_time_wait(Duration::from_millis(10));
        let client =
            nats_client::connect_with_runtime(Host::new(&net, 1), &cluster.urls(), options).await.unwrap();
        let js = nats_jetstream::new(client.clone());
        let store = js.create_object_store(ObjectStoreConfig::new("files")).await.unwrap();
        // 300 KiB: three chunks of 128 KiB, the last one short.
        let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
        let info = store.put("big.bin", &mut &data[..]).await.unwrap();
        assert_eq!((info.size, info.chunks), (data.len() as u64, 3));
        let server = usize::from(client.connected_url().is_some_and(|u| u.to_string().contains("s1")));
        cluster.stop(server);
        cluster.start(server);
        let read = store.get("big.bin").await.unwrap().read_all().await.unwrap();
        assert!(read == data, "the same bytes, digest checked by the reader");
        let names: Vec<String> = store.list().await.unwrap().map(|o| o.unwrap().name).collect().await;
        assert_eq!(names, ["big.bin"]);
    };
    assert_eq!(run(3, scenario), run(3, scenario), "one seed, one run");
}

#[test]
fn a_service_answers_until_it_stops_then_nobody_does() {
    run(4, |net, cluster| async move {
        let server =
            nats_client::connect_with_runtime(Host::new(&net, 1), &cluster.urls(), ConnectOptions::new())
                .await
                .unwrap();
        let caller =
            nats_client::connect_with_runtime(Host::new(&net, 2), &cluster.urls(), ConnectOptions::new())
                .await
                .unwrap();
        let service = server.service_builder().start("echo", "1.0.0").await.unwrap();
        let mut endpoint = service.add_endpoint("echo").await.unwrap();
        let host = Host::new(&net, 1);
        nats_client::Runtime::spawn(&host, async move {
            while let Some(request) = endpoint.next().await {
                let payload = request.payload().clone();
                let _ = request.respond(payload).await;
            }
        });
        let reply = caller.request("echo", "hi".into()).await.unwrap();
        assert_eq!(reply.payload, "hi");
        let pong = caller.request("$SRV.PING.echo", "".into()).await.unwrap();
        assert!(String::from_utf8_lossy(&pong.payload).contains("\"name\":\"echo\""));
        service.stop().await.unwrap();
        assert_eq!(caller.request("echo", "again".into()).await.unwrap_err(), RequestError::NoResponders);
    });
}
