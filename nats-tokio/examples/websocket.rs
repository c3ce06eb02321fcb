//! WebSocket: the same client over nats-server's WebSocket listener (`ws://`, `wss://`).
//!
//! Subscribes, publishes to itself and answers a request over the WebSocket, then
//! publishes `COUNT` messages of 128 bytes (default 200,000) to a subscriber on the same
//! connection, flushed every 10,000, and prints the publish rate and the time until all
//! arrived. Run it once with a `nats://` URL to compare the two transports on the same
//! server.
//!
//! ```sh
//! printf 'websocket { port: 8080, no_tls: true }\n' >ws.conf
//! nats-server -a 127.0.0.1 -p 4222 -c ws.conf &
//! NATS_URL=ws://127.0.0.1:8080 cargo run --release -p nats-tokio --example websocket
//! NATS_URL=nats://127.0.0.1:4222 cargo run --release -p nats-tokio --example websocket
//! ```
//!
//! `NATS_URL` defaults to `ws://127.0.0.1:8080`. For `wss://`, `NATS_CA` is a PEM file of
//! the CA that signed the server's certificate (the `websocket` block then has a
//! `tls { cert_file, key_file }` block instead of `no_tls`).

use std::error::Error;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nats_tokio::ConnectOptions;
use tokio::time::timeout;

/// The longest the example waits for one thing, so it never hangs.
const WAIT: Duration = Duration::from_secs(10);
const PAYLOAD: [u8; 128] = [b'x'; 128];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "ws://127.0.0.1:8080".to_owned());
    let count: usize = std::env::var("COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(200_000);
    let mut options = ConnectOptions::new();
    if let Ok(ca) = std::env::var("NATS_CA") {
        options = options.add_root_certificates(ca);
    }
    let client = nats_tokio::connect_with_options(&url, options).await?;
    if let Some(server) = client.connected_url() {
        println!("Connected to {server} ({:?})", server.scheme());
    }

    // Publish and subscribe, and a request answered on the same connection.
    let mut greetings = client.subscribe("greet.*").await?;
    client.publish("greet.ws", "hello over a WebSocket".into()).await?;
    let message = timeout(WAIT, greetings.next()).await?.ok_or("the subscription ended")?;
    println!("Received on {}: {}", message.subject, String::from_utf8_lossy(&message.payload));
    let mut service = client.subscribe("time").await?;
    let responder = client.clone();
    let serving = tokio::spawn(async move {
        if let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                responder.publish(&reply, "it is now".into()).await.ok();
            }
        }
    });
    let answer = client.request("time", "what time is it?".into()).await?;
    println!("Request answered: {}", String::from_utf8_lossy(&answer.payload));
    timeout(WAIT, serving).await??;

    // Publish throughput to a subscriber on the same connection.
    let mut sink = client.subscribe("bench").await?;
    client.flush().await?;
    let receiving = tokio::spawn(async move {
        let mut received = 0;
        while received < count {
            match timeout(WAIT, sink.next()).await {
                Ok(Some(_)) => received += 1,
                _ => break,
            }
        }
        received
    });
    let start = Instant::now();
    for i in 0..count {
        client.publish("bench", (&PAYLOAD[..]).into()).await?;
        if (i + 1) % 10_000 == 0 {
            timeout(WAIT, client.flush()).await??;
        }
    }
    timeout(WAIT, client.flush()).await??;
    let published = start.elapsed();
    let received = timeout(WAIT * 6, receiving).await??;
    let all = start.elapsed();
    println!(
        "Published {count} x {} B in {published:.2?}: {:.0} msgs/s; {received} received in {all:.2?}: {:.0} msgs/s",
        PAYLOAD.len(),
        count as f64 / published.as_secs_f64(),
        received as f64 / all.as_secs_f64(),
    );
    client.close().await;
    if received != count {
        return Err(format!("{received} of {count} messages arrived").into());
    }
    Ok(())
}
