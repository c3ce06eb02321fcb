//! Request/reply scenarios against a real server, each on tokio, smol and async-std: one
//! reply, several replies (a count, or until the timeout), timeouts and no responders.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join;
use futures_util::StreamExt;
use nats_client::{
    Client, ConnectOptions, Expected, HeaderMap, HeaderName, HeaderValue, PublishError, Request,
    RequestError, RequestOutcome, Runtime,
};
use nats_integration_tests::{connect, connect_with, next_message, runtime_tests, within, NatsServer};

runtime_tests!(
    request_reply,
    request_many_count,
    request_many_until_timeout,
    request_timeout,
    no_responders,
    send_request_builder,
    timeouts_of_duration_max_mean_never,
);

fn text(payload: &[u8]) -> &str {
    std::str::from_utf8(payload).expect("UTF-8 payload")
}

/// Serves `subject` on a task of the runtime: replies with `prefix` + the request's payload
/// and the request's headers. The task ends when `client` is closed. Returns once the
/// server has the subscription.
async fn serve<R: Runtime>(rt: &R, client: &Client, subject: &str, prefix: &str) {
    let mut sub = client.subscribe(subject).await.unwrap();
    let replier = client.clone();
    let prefix = prefix.to_owned();
    rt.spawn(async move {
        while let Some(msg) = sub.next().await {
            let Some(reply) = msg.reply else { continue };
            let payload = Bytes::from(format!("{prefix}{}", text(&msg.payload)));
            // The connection may close under a late request: ignore that.
            let _ = replier.publish_message(reply.as_str(), None, msg.headers.as_deref(), payload).await;
        }
    });
    within(rt, "flush", client.flush()).await.unwrap();
}

async fn request_reply<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let service = connect(&rt, &server.url()).await;
    serve(&rt, &service, "svc.echo", "echo: ").await;
    let client = connect(&rt, &server.url()).await;

    let reply = within(&rt, "request", client.request("svc.echo", "hi".into())).await.unwrap();
    assert_eq!(text(&reply.payload), "echo: hi");
    assert!(reply.subject.as_str().starts_with("_INBOX."), "{}", reply.subject);

    // With headers, which the service sends back.
    let mut headers = HeaderMap::new();
    headers.append(HeaderName::new("X-Trace").unwrap(), HeaderValue::new("abc").unwrap());
    headers.append(HeaderName::new("X-Trace").unwrap(), HeaderValue::new("def").unwrap());
    let reply = within(
        &rt,
        "request with headers",
        client.request_with("svc.echo", Some(&headers), "h".into(), Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert_eq!(text(&reply.payload), "echo: h");
    assert_eq!(reply.headers.as_deref(), Some(&headers));

    // Many at once on the shared inbox: each reply reaches its own request.
    let requests = (0..50).map(|i| {
        let client = client.clone();
        async move { (i, client.request("svc.echo", i.to_string().into()).await) }
    });
    for (i, reply) in within(&rt, "50 requests", futures_util::future::join_all(requests)).await {
        assert_eq!(text(&reply.unwrap().payload), format!("echo: {i}"));
    }

    // A custom inbox prefix.
    let custom = connect_with(&rt, &server.url(), ConnectOptions::new().inbox_prefix("_MINE")).await;
    let reply = within(&rt, "request", custom.request("svc.echo", "custom".into())).await.unwrap();
    assert_eq!(text(&reply.payload), "echo: custom");
    assert!(reply.subject.as_str().starts_with("_MINE."), "{}", reply.subject);

    // Requests on a closed connection fail at once.
    within(&rt, "close", custom.close()).await;
    assert_eq!(
        within(&rt, "request after close", custom.request("svc.echo", "x".into())).await,
        Err(RequestError::Publish(PublishError::Closed))
    );
    within(&rt, "close", client.close()).await;
    within(&rt, "close", service.close()).await;
}

async fn request_many_count<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let mut services = Vec::new();
    for i in 0..3 {
        let service = connect(&rt, &server.url()).await;
        serve(&rt, &service, "svc.many", &format!("{i}:")).await;
        services.push(service);
    }
    let client = connect(&rt, &server.url()).await;

    // The timeout is far past the wait's bound: the stream ends on the count or the wait fails.
    let mut replies =
        client.request_many("svc.many", "q".into(), Expected::Count(2), Duration::from_secs(600)).unwrap();
    let got: Vec<String> =
        within(&rt, "two replies", replies.by_ref().map(|m| text(&m.payload).to_owned()).collect()).await;
    assert_eq!(got.len(), 2, "exactly the expected count: {got:?}");
    assert!(got.iter().all(|r| r.ends_with(":q")), "{got:?}");
    assert_eq!(replies.outcome(), Some(RequestOutcome::Completed), "completes on the count");
    assert_eq!(replies.error(), None);

    // More expected than there are responders: what came, then the timeout (long enough
    // for three local responders on a loaded machine).
    let mut replies =
        client.request_many("svc.many", "more".into(), Expected::Count(5), Duration::from_secs(5)).unwrap();
    let got: Vec<_> = within(&rt, "replies", replies.by_ref().collect::<Vec<_>>()).await;
    assert_eq!(got.len(), 3);
    assert_eq!(replies.outcome(), Some(RequestOutcome::TimedOut));
    assert_eq!(replies.error(), None, "a timeout after some replies is no error");

    // Nobody listening.
    let mut replies =
        client.request_many("svc.none", "x".into(), Expected::Count(2), Duration::from_secs(5)).unwrap();
    assert_eq!(within(&rt, "no responders", replies.next()).await, None);
    assert_eq!(replies.outcome(), Some(RequestOutcome::NoResponders));
    assert_eq!(replies.error(), Some(RequestError::NoResponders));

    within(&rt, "close", client.close()).await;
    for service in services {
        within(&rt, "close", service.close()).await;
    }
}

async fn request_many_until_timeout<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let mut services = Vec::new();
    for i in 0..3 {
        let service = connect(&rt, &server.url()).await;
        serve(&rt, &service, "svc.gather", &format!("{i}:")).await;
        services.push(service);
    }
    let client = connect(&rt, &server.url()).await;

    // Long enough for three local responders on a loaded machine.
    let timeout = Duration::from_secs(5);
    let started = Instant::now();
    let mut replies =
        client.request_many("svc.gather", "all".into(), Expected::UntilTimeout, timeout).unwrap();
    let mut got: Vec<String> =
        within(&rt, "scatter-gather", replies.by_ref().map(|m| text(&m.payload).to_owned()).collect()).await;
    assert!(started.elapsed() >= timeout, "the stream lasts until the timeout");
    got.sort();
    assert_eq!(got, ["0:all", "1:all", "2:all"], "one reply from every responder");
    assert_eq!(replies.outcome(), Some(RequestOutcome::TimedOut), "the normal end of scatter-gather");
    assert_eq!(replies.error(), None);

    // No responders ends it at once: long before its timeout, far past the wait's bound.
    let mut replies = client
        .request_many("svc.nobody", "x".into(), Expected::UntilTimeout, Duration::from_secs(600))
        .unwrap();
    assert_eq!(within(&rt, "no responders", replies.next()).await, None);
    assert_eq!(replies.outcome(), Some(RequestOutcome::NoResponders));
    assert_eq!(replies.error(), Some(RequestError::NoResponders));

    within(&rt, "close", client.close()).await;
    for service in services {
        within(&rt, "close", service.close()).await;
    }
}

async fn request_timeout<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // A subscriber that never answers: the request is heard, but not replied to.
    let silent = connect(&rt, &server.url()).await;
    let _heard = silent.subscribe("svc.silent").await.unwrap();
    within(&rt, "flush", silent.flush()).await.unwrap();
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().request_timeout(Duration::from_millis(250)))
            .await;

    let started = Instant::now();
    let result = within(&rt, "request", client.request("svc.silent", "anyone?".into())).await;
    let elapsed = started.elapsed();
    assert_eq!(result.unwrap_err(), RequestError::Timeout);
    assert!(
        elapsed >= Duration::from_millis(250),
        "not before the connection's request timeout: {elapsed:?}"
    );

    let started = Instant::now();
    let result = within(
        &rt,
        "request",
        client.request_with("svc.silent", None, "x".into(), Duration::from_millis(100)),
    )
    .await;
    assert_eq!(result.unwrap_err(), RequestError::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(100));

    let mut replies = client
        .request_many("svc.silent", "x".into(), Expected::Count(1), Duration::from_millis(100))
        .unwrap();
    assert_eq!(within(&rt, "replies", replies.next()).await, None);
    assert_eq!(replies.outcome(), Some(RequestOutcome::TimedOut));
    assert_eq!(replies.error(), Some(RequestError::Timeout), "no reply at all: a timeout error");

    // The connection is fine afterwards.
    assert!(client.is_connected());
    within(&rt, "flush", client.flush()).await.unwrap();
    within(&rt, "close", client.close()).await;
    within(&rt, "close", silent.close()).await;
}

async fn no_responders<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    // A request timeout far past the wait's bound: the answer is the server's 503, not a
    // timeout.
    let client =
        connect_with(&rt, &server.url(), ConnectOptions::new().request_timeout(Duration::from_secs(600)))
            .await;
    let result = within(&rt, "request", client.request("nobody.home", "hello?".into())).await;
    assert_eq!(result.unwrap_err(), RequestError::NoResponders, "no responders is not a timeout");

    // Once someone listens, the same subject answers.
    let service = connect(&rt, &server.url()).await;
    let mut sub = service.subscribe("nobody.home").await.unwrap();
    within(&rt, "flush", service.flush()).await.unwrap();
    let answer = async {
        let msg = next_message(&rt, &mut sub).await;
        service.publish(msg.reply.expect("a reply subject").as_str(), "now: here".into()).await.unwrap();
    };
    let (reply, ()) =
        within(&rt, "request", join(client.request("nobody.home", "hello?".into()), answer)).await;
    assert_eq!(text(&reply.unwrap().payload), "now: here");
    // Once the server has processed the UNSUB, nobody listens again.
    sub.unsubscribe().await.unwrap();
    within(&rt, "flush", service.flush()).await.unwrap();
    let result = within(&rt, "request", client.request("nobody.home", "again".into())).await;
    assert_eq!(result.unwrap_err(), RequestError::NoResponders);
    within(&rt, "close", service.close()).await;
    within(&rt, "close", client.close()).await;
}

/// `send_request` with the `Request` builder, and `request_with_headers`: headers, a timeout
/// of its own, no timeout at all, an inbox of the caller's choosing, and each failure.
async fn send_request_builder<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let service = connect(&rt, &server.url()).await;
    serve(&rt, &service, "svc.echo", "echo: ").await;
    let client = connect(&rt, &server.url()).await;
    let mut headers = HeaderMap::new();
    headers.append(HeaderName::new("X-Trace").unwrap(), HeaderValue::new("abc").unwrap());

    let reply = within(
        &rt,
        "builder with headers and timeout",
        client.send_request(
            "svc.echo",
            Request::new()
                .payload("one".into())
                .headers(headers.clone())
                .timeout(Some(Duration::from_secs(5))),
        ),
    )
    .await
    .unwrap();
    assert_eq!(text(&reply.payload), "echo: one");
    let echoed = reply.headers.as_deref().expect("headers sent back");
    assert_eq!(echoed.get("X-Trace").map(HeaderValue::as_str), Some("abc"));

    let reply = within(
        &rt,
        "no timeout",
        client.send_request("svc.echo", Request::new().payload("two".into()).timeout(None)),
    )
    .await
    .unwrap();
    assert_eq!(text(&reply.payload), "echo: two");
    assert!(reply.subject.as_str().starts_with("_INBOX."), "a fresh inbox: {}", reply.subject);

    let reply = within(
        &rt,
        "own inbox",
        client.send_request("svc.echo", Request::new().payload("three".into()).inbox("my.replies.3")),
    )
    .await
    .unwrap();
    assert_eq!(reply.subject.as_str(), "my.replies.3", "the reply came to the caller's inbox");
    assert_eq!(text(&reply.payload), "echo: three");

    let reply = within(&rt, "with headers", client.request_with_headers("svc.echo", &headers, "four".into()))
        .await
        .unwrap();
    assert_eq!(text(&reply.payload), "echo: four");

    // Nobody listens: a 503 ends it, with or without a timeout of its own.
    let err = within(&rt, "no responders", client.send_request("nobody.home", Request::new().timeout(None)))
        .await
        .unwrap_err();
    assert_eq!(err, RequestError::NoResponders);
    let err = within(
        &rt,
        "no responders",
        client.send_request("nobody.home", Request::new().inbox("my.replies.4")),
    )
    .await
    .unwrap_err();
    assert_eq!(err, RequestError::NoResponders);

    // Someone listens but never answers: the request's own timeout ends it.
    let _silent = service.subscribe("svc.silent").await.unwrap();
    within(&rt, "flush", service.flush()).await.unwrap();
    let started = Instant::now();
    let err = within(
        &rt,
        "timeout",
        client.send_request(
            "svc.silent",
            Request::new().inbox("my.replies.5").timeout(Some(Duration::from_millis(200))),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err, RequestError::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(200), "not before its timeout");

    // An invalid inbox is refused before anything is sent.
    let err = within(&rt, "bad inbox", client.send_request("svc.echo", Request::new().inbox("bad inbox")))
        .await
        .unwrap_err();
    assert!(matches!(err, RequestError::Publish(_)), "{err:?}");

    // Waiting without a timeout ends when the connection closes.
    let pending = client.send_request("svc.silent", Request::new().timeout(None));
    let closer = async {
        within(&rt, "flush", client.flush()).await.unwrap();
        client.close().await;
    };
    let (result, ()) = within(&rt, "closed while waiting", join(pending, closer)).await;
    assert_eq!(result.unwrap_err(), RequestError::Closed);
}

/// Timeouts of `Duration::MAX` mean never: every request and flush entry point takes one
/// (as do the connection's own durations) without panicking, in the caller's task or in
/// the connection's task, and waits for its answer however late it comes.
async fn timeouts_of_duration_max_mean_never<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let service = connect(&rt, &server.url()).await;
    serve(&rt, &service, "svc.echo", "echo: ").await;
    let options = ConnectOptions::new()
        .request_timeout(Duration::MAX)
        .flush_timeout(Duration::MAX)
        .ping_interval(Duration::MAX)
        .connection_timeout(Duration::MAX)
        .drain_timeout(Duration::MAX)
        .reconnect_time_wait(Duration::MAX)
        .reconnect_backoff_max(Duration::MAX)
        .reconnect_jitter(Duration::MAX, Duration::MAX);
    let client = connect_with(&rt, &server.url(), options).await;

    let reply = within(&rt, "request", client.request("svc.echo", Bytes::from_static(b"a"))).await.unwrap();
    assert_eq!(text(&reply.payload), "echo: a");
    let reply = within(
        &rt,
        "request_with",
        client.request_with("svc.echo", None, Bytes::from_static(b"b"), Duration::MAX),
    )
    .await
    .unwrap();
    assert_eq!(text(&reply.payload), "echo: b");
    let request = Request::new().payload(Bytes::from_static(b"c")).timeout(Some(Duration::MAX));
    let reply = within(&rt, "send_request", client.send_request("svc.echo", request.clone())).await.unwrap();
    assert_eq!(text(&reply.payload), "echo: c");
    let own_inbox = request.inbox("my.replies.max");
    let reply = within(&rt, "own inbox", client.send_request("svc.echo", own_inbox)).await.unwrap();
    assert_eq!(text(&reply.payload), "echo: c");
    let mut replies =
        client.request_many("svc.echo", Bytes::from_static(b"d"), Expected::Count(1), Duration::MAX).unwrap();
    let reply = within(&rt, "request_many", replies.next()).await.expect("a reply");
    assert_eq!(text(&reply.payload), "echo: d");
    within(&rt, "flush", client.flush()).await.unwrap();
    within(&rt, "flush_timeout", client.flush_timeout(Duration::MAX)).await.unwrap();
    assert!(client.deadline(Duration::MAX) > client.now() + Duration::from_secs(100 * 365 * 86_400));

    // A late answer is still taken: the request did not time out meanwhile.
    let mut silent = service.subscribe("svc.late").await.unwrap();
    within(&rt, "flush", service.flush()).await.unwrap();
    let late = async {
        let msg = next_message(&rt, &mut silent).await;
        service.sleep_until(service.deadline(Duration::from_millis(300))).await;
        let reply = msg.reply.expect("a reply subject");
        service.publish(reply.as_str(), Bytes::from_static(b"late")).await.unwrap();
    };
    let request = client.request_with("svc.late", None, Bytes::from_static(b"?"), Duration::MAX);
    let (reply, ()) = within(&rt, "late reply", join(request, late)).await;
    assert_eq!(text(&reply.unwrap().payload), "late");

    // A request that waits forever ends when the connection drains (which never times out
    // either: it ends once the server has answered).
    let pending = client.request_with("svc.late", None, Bytes::from_static(b"never"), Duration::MAX);
    let drain = async {
        within(&rt, "flush", client.flush()).await.unwrap();
        client.drain().await.unwrap();
    };
    let (result, ()) = within(&rt, "drained while waiting", join(pending, drain)).await;
    assert_eq!(result.unwrap_err(), RequestError::Closed);
    assert_eq!(client.connection_state(), nats_client::State::Closed);
    within(&rt, "close", service.close()).await;
}
