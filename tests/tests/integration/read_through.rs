//! Read-through: a task waiting on a request's reply (or a flush) reads the socket itself,
//! so the reply reaches it with one wake. These scenarios check that the connection's
//! other readers never depend on that task: a request future kept but no longer polled
//! holds up no subscriber, requesters and subscribers sharing one connection each get
//! everything in order, and a request that times out while it holds the reads leaves the
//! connection working.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::StreamExt;
use nats_client::{Client, RequestError, Runtime};
use nats_integration_tests::{connect, echo, next_message, runtime_tests, within, NatsServer};

runtime_tests!(kept_request_holds_up_no_subscriber, requesters_and_subscribers_share_reads, timed_out_reader);

/// Subscribes to `subject` and never answers: requests to it wait until their timeout.
async fn silent<R: Runtime>(rt: &R, client: &Client, subject: &str) {
    let mut sub = client.subscribe(subject).await.unwrap();
    rt.spawn(async move { while sub.next().await.is_some() {} });
    within(rt, "flush", client.flush()).await.unwrap();
}

async fn kept_request_holds_up_no_subscriber<R: Runtime>(rt: R) {
    const COUNT: usize = 100;
    let server = NatsServer::plain();
    let other = connect(&rt, &server.url()).await;
    silent(&rt, &other, "rt.silent").await;
    let mut done = other.subscribe("rt.done").await.unwrap();
    within(&rt, "flush", other.flush()).await.unwrap();

    let client = connect(&rt, &server.url()).await;
    let mut sub = client.subscribe("rt.msgs").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    // Another task receives on this connection and says when it has everything.
    let reporter = other.clone();
    rt.spawn(async move {
        for i in 0..COUNT {
            let msg = sub.next().await.expect("the subscription lives");
            assert_eq!(msg.payload, i.to_string(), "in order");
        }
        reporter.publish("rt.done", "".into()).await.unwrap();
    });

    // This task starts a request (it claims the reads: nothing has come yet), then keeps
    // the future without polling it again, and waits on another connection only.
    let mut request = Box::pin(client.request_with("rt.silent", None, "".into(), Duration::from_secs(60)));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(request.as_mut().poll(&mut cx).is_pending(), "nobody answers");
    for i in 0..COUNT {
        other.publish("rt.msgs", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", other.flush()).await.unwrap();
    // The bytes for the other task arrive while this one holds the reads and does not
    // read: another reader or the driver (within its lease) takes them over, long before
    // the request's timeout. (The virtual-clock test in nats-client pins the lease down.)
    next_message(&rt, &mut done).await;
    drop(request);
}

async fn requesters_and_subscribers_share_reads<R: Runtime>(rt: R) {
    const REQUESTERS: usize = 6;
    const REQUESTS: usize = 200;
    const MESSAGES: usize = 3_000;
    let server = NatsServer::plain();
    let service = connect(&rt, &server.url()).await;
    echo(&rt, &service, "rt.echo").await;
    let publisher = connect(&rt, &server.url()).await;
    let mut done = publisher.subscribe("rt.done").await.unwrap();
    within(&rt, "flush", publisher.flush()).await.unwrap();

    let client = connect(&rt, &server.url()).await;
    let mut sub = client.subscribe("rt.msgs").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let reporter = publisher.clone();
    rt.spawn(async move {
        for i in 0..MESSAGES {
            let msg = sub.next().await.expect("the subscription lives");
            assert_eq!(msg.payload, i.to_string(), "in order, none lost");
        }
        reporter.publish("rt.done", "subscriber".into()).await.unwrap();
    });
    for task in 0..REQUESTERS {
        let client = client.clone();
        let reporter = publisher.clone();
        rt.spawn(async move {
            for i in 0..REQUESTS {
                let payload = format!("{task}.{i}");
                let reply = client.request("rt.echo", payload.clone().into()).await.expect("a reply");
                assert_eq!(reply.payload, payload, "each requester gets its own reply");
                if i % 50 == 0 {
                    client.flush().await.expect("flushed");
                }
            }
            reporter.publish("rt.done", "requester".into()).await.unwrap();
        });
    }
    // Messages for the subscriber arrive while the requesters read their replies.
    for i in 0..MESSAGES {
        publisher.publish("rt.msgs", i.to_string().into()).await.unwrap();
    }
    within(&rt, "flush", publisher.flush()).await.unwrap();
    let mut requesters = 0;
    let mut subscriber = 0;
    while requesters < REQUESTERS || subscriber < 1 {
        // A panicking task never reports: this then times out.
        match &next_message(&rt, &mut done).await.payload[..] {
            b"requester" => requesters += 1,
            _ => subscriber += 1,
        }
    }
}

async fn timed_out_reader<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let other = connect(&rt, &server.url()).await;
    silent(&rt, &other, "rt.silent").await;
    echo(&rt, &other, "rt.echo").await;
    let client = connect(&rt, &server.url()).await;
    let mut sub = client.subscribe("rt.msgs").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();

    // The request reads through while it waits, and times out at its deadline.
    let started = rt.now();
    let result =
        within(&rt, "request", client.request_with("rt.silent", None, "".into(), Duration::from_millis(300)))
            .await;
    assert!(matches!(result, Err(RequestError::Timeout)), "{result:?}");
    assert!(rt.now() - started >= Duration::from_millis(300), "not before its deadline");
    // The reads went back to the driver: a message and the next request still arrive.
    other.publish("rt.msgs", "after".into()).await.unwrap();
    assert_eq!(next_message(&rt, &mut sub).await.payload, "after");
    let reply = within(&rt, "request", client.request("rt.echo", "again".into())).await.unwrap();
    assert_eq!(reply.payload, "again");
    // Polled once and dropped: nothing is left claimed.
    let mut request = Box::pin(client.request_with("rt.silent", None, "".into(), Duration::from_secs(60)));
    assert!(matches!(request.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Pending));
    drop(request);
    other.publish("rt.msgs", "dropped".into()).await.unwrap();
    assert_eq!(next_message(&rt, &mut sub).await.payload, "dropped");
}
