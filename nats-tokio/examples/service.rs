//! A NATS service (ADR-32, the "micro" API) with `nats-service` on tokio.
//!
//! Starts the service `calc` (version 1.0.0) with two endpoints in the group `calc`:
//! `calc.add` answers through a closure on a task, `calc.div` is read as a stream of
//! requests here and answers a division by zero with an error reply (the
//! `Nats-Service-Error` and `Nats-Service-Error-Code` headers). A second connection then
//! acts as a client: it discovers the service (`$SRV.PING`), reads its `$SRV.INFO`, calls
//! both endpoints, and reads `$SRV.STATS`. Finally the service stops.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p nats-tokio --example service
//! ```
//!
//! `NATS_URL` defaults to `nats://127.0.0.1:4222`. While it runs, `nats micro ls` (the
//! `nats` CLI) lists the service too.

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use nats_service::{ErrorReply, InfoResponse, PingResponse, ServiceBuilder, StatsResponse};
use nats_tokio::{Client, Expected};
use tokio::time::timeout;

/// The longest the example waits for anything, so it never hangs.
const WAIT: Duration = Duration::from_secs(5);

fn numbers(payload: &[u8]) -> Option<(f64, f64)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (a, b) = text.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let connection = nats_tokio::connect(&url).await?;

    let service = ServiceBuilder::new("calc", "1.0.0")
        .description("adds and divides")
        .metadata("example", "nats-tokio")
        .start(&connection)
        .await?;
    println!("Started service calc, id {}", service.id());

    let calc = service.group("calc");
    // A closure per request, run on a tokio task by the service.
    calc.add_endpoint("add").await?.serve(|request| async move {
        let result = match numbers(request.payload()) {
            Some((a, b)) => request.respond((a + b).to_string().into()).await,
            None => request.error(400, "expected two numbers: a,b").await,
        };
        if let Err(e) = result {
            eprintln!("add: cannot reply: {e}");
        }
    });
    // A stream of requests, read by a task of ours.
    let mut divide = calc.add_endpoint("div").await?;
    let divider = tokio::spawn(async move {
        while let Some(request) = divide.next().await {
            let result = match numbers(request.payload()) {
                Some((_, 0.0)) => request.error(422, "division by zero").await,
                Some((a, b)) => request.respond((a / b).to_string().into()).await,
                None => request.error(400, "expected two numbers: a,b").await,
            };
            if let Err(e) = result {
                eprintln!("div: cannot reply: {e}");
            }
        }
    });

    // The client side, on its own connection.
    let client = nats_tokio::connect(&url).await?;
    discover(&client).await?;
    for (subject, payload) in [("calc.add", "40,2"), ("calc.div", "84,2"), ("calc.div", "1,0")] {
        let reply = timeout(WAIT, client.request(subject, payload.into())).await??;
        match ErrorReply::from_message(&reply) {
            Some(error) => println!("{subject}({payload}) -> error {} ({})", error.code, error.description),
            None => println!("{subject}({payload}) -> {}", String::from_utf8_lossy(&reply.payload)),
        }
    }
    let reply =
        timeout(WAIT, client.request(format!("$SRV.STATS.calc.{}", service.id()), "".into())).await??;
    let stats: StatsResponse = serde_json::from_slice(&reply.payload)?;
    println!("Stats since {}:", stats.started);
    for endpoint in &stats.endpoints {
        println!(
            "  {}: {} requests, {} errors (last: {:?}), average {} ns",
            endpoint.subject,
            endpoint.num_requests,
            endpoint.num_errors,
            endpoint.last_error,
            endpoint.average_processing_time
        );
    }

    // Stopping ends the endpoints' streams: the divider task finishes.
    timeout(WAIT, service.stop()).await??;
    timeout(WAIT, divider).await??;
    timeout(WAIT, client.drain()).await??;
    timeout(WAIT, connection.drain()).await??;
    println!("Stopped");
    Ok(())
}

/// Pings every service for half a second, then reads the INFO of each `calc` instance.
async fn discover(client: &Client) -> Result<(), Box<dyn Error>> {
    let mut pongs =
        client.request_many("$SRV.PING", "".into(), Expected::UntilTimeout, Duration::from_millis(500))?;
    while let Some(reply) = pongs.next().await {
        let ping: PingResponse = serde_json::from_slice(&reply.payload)?;
        println!("Found {} {} (id {})", ping.name, ping.version, ping.id);
    }
    let reply = timeout(WAIT, client.request("$SRV.INFO.calc", "".into())).await??;
    let info: InfoResponse = serde_json::from_slice(&reply.payload)?;
    println!("{}: {}", info.name, info.description);
    for endpoint in &info.endpoints {
        println!(
            "  endpoint {} on {} (queue group {:?})",
            endpoint.name, endpoint.subject, endpoint.queue_group
        );
    }
    Ok(())
}
