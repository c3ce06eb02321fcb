// An ordinary async-nats program. It is included by `lib.rs` twice, after imports that
// name `nats`, `jetstream`, `StreamConfig` and `KvConfig`; nothing below may depend on which
// client it is compiled against.

use std::time::Duration;

use futures_util::StreamExt;

/// Runs the program against the server at `url`; `prefix` keeps the subjects, stream and
/// bucket of one run apart from another's.
pub async fn run(url: &str, prefix: &str) -> Result<(), nats::Error> {
    let options = nats::ConnectOptions::new()
        .name("migration-check")
        .request_timeout(Some(Duration::from_secs(5)))
        .ping_interval(Duration::from_secs(30))
        .event_callback(|event| async move {
            eprintln!("event: {event}");
        });
    let client = nats::connect_with_options(url, options).await?;

    // A responder that echoes the payload and a header back.
    let mut service = client.subscribe(format!("{prefix}.echo")).await?;
    let responder = client.clone();
    let echo = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            let trace = request
                .headers
                .as_ref()
                .and_then(|headers| headers.get("X-Trace"))
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default();
            let mut headers = nats::HeaderMap::new();
            headers.insert("X-Trace", trace.as_str());
            if let Some(reply) = request.reply {
                responder.publish_with_headers(reply, headers, request.payload).await?;
            }
        }
        Ok::<(), nats::Error>(())
    });

    // Publish and subscribe.
    let mut subscriber = client.subscribe(format!("{prefix}.greet.*")).await?;
    client.publish(format!("{prefix}.greet.joe"), "hello".into()).await?;
    client.flush().await?;
    let message = subscriber.next().await.ok_or("the subscription ended")?;
    assert_eq!(message.payload, "hello");
    subscriber.unsubscribe().await?;

    // Requests: with headers, and through the request builder.
    let mut headers = nats::HeaderMap::new();
    headers.insert("X-Trace", "abc-1");
    let reply = client.request_with_headers(format!("{prefix}.echo"), headers, "ping".into()).await?;
    assert_eq!(reply.payload, "ping");
    let trace = reply.headers.as_ref().and_then(|h| h.get("X-Trace")).map(|v| v.as_str().to_owned());
    assert_eq!(trace.as_deref(), Some("abc-1"));
    let request = nats::Request::new().payload("built".into()).timeout(Some(Duration::from_secs(2)));
    let reply = client.send_request(format!("{prefix}.echo"), request).await?;
    assert_eq!(reply.payload, bytes::Bytes::from_static(b"built"));
    match client.request(format!("{prefix}.nobody"), "anyone?".into()).await {
        Err(error) => eprintln!("no one answers: {error}"),
        Ok(reply) => return Err(format!("unexpected reply {reply:?}").into()),
    }

    // A subscriber drained: what was sent before is still delivered.
    let mut drained = client.subscribe(format!("{prefix}.drained")).await?;
    client.publish(format!("{prefix}.drained"), "last".into()).await?;
    client.flush().await?;
    drained.drain().await?;
    let last = drained.next().await.ok_or("drained before the message")?;
    assert_eq!(last.payload, "last");

    // A forced reconnect; requests work on the new connection.
    client.force_reconnect().await?;
    let reply = client.request(format!("{prefix}.echo"), "after".into()).await?;
    assert_eq!(reply.payload, "after");
    println!("statistics: {:?}", client.statistics());

    // JetStream and a key-value bucket.
    let js = jetstream::new(client.clone());
    let stream_name = format!("{}_ORDERS", prefix.to_uppercase());
    js.get_or_create_stream(StreamConfig {
        name: stream_name.clone(),
        subjects: vec![format!("{prefix}.orders.>")],
        ..Default::default()
    })
    .await?;
    let ack = js.publish(format!("{prefix}.orders.new"), "order 1".into()).await?.await?;
    assert_eq!(ack.stream, stream_name);
    let kv = js.create_key_value(KvConfig { bucket: format!("{prefix}_config"), history: 5, ..Default::default() }).await?;
    let revision = kv.put("port", "4222".into()).await?;
    kv.update("port", "4223".into(), revision).await?;
    assert_eq!(kv.get("port").await?.as_deref(), Some(&b"4223"[..]));
    js.delete_key_value(format!("{prefix}_config")).await?;
    js.delete_stream(&stream_name).await?;

    client.drain().await?;
    echo.await??;
    Ok(())
}
