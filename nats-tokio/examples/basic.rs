//! Basic usage (the seed README's first example): connect, subscribe, publish, request,
//! then drain. The server comes from `NATS_URL` (default `nats://127.0.0.1:4222`).

use std::time::Duration;

use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let client = nats_tokio::connect(&url).await?;
    println!("connected to {}", client.connected_url().map(|s| s.to_string()).unwrap_or_default());

    // A simple publisher and an async subscriber.
    let mut subscriber = client.subscribe("foo").await?;
    client.publish("foo", "Hello").await?;
    client.publish("foo", "World").await?;
    client.publish("foo", "!!!!!").await?;
    for _ in 0..3 {
        let message = subscriber.next().await.ok_or("subscription ended")?;
        println!(
            "received a message on '{}': {}",
            message.subject,
            String::from_utf8_lossy(&message.payload)
        );
    }

    // A responder and a request.
    let mut helpers = client.subscribe("help").await?;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(request) = helpers.next().await {
            if let Some(reply) = request.reply {
                responder.publish(reply.as_str(), "I can help").await.ok();
            }
        }
    });
    let response = client.request_with("help", None, "help me", Duration::from_millis(500)).await?;
    println!("received response: {}", String::from_utf8_lossy(&response.payload));

    // Nobody listens here: the server says so at once.
    match client.request("nobody.home", "hello?").await {
        Err(nats_tokio::RequestError::NoResponders) => {
            println!("no responders on 'nobody.home', as expected")
        }
        other => return Err(format!("expected no responders, got {other:?}").into()),
    }

    client.drain().await;
    println!("drained and closed");
    Ok(())
}
