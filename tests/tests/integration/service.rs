//! Services (ADR-32, `nats-service`) against a real server, each scenario on tokio, smol and
//! async-std: endpoints and groups, replies and error replies, discovery on every subject
//! level, statistics, queue groups, stop; and interop with nats-py's `nats.micro` both ways.
//!
//! Not run against the 2.9 compatibility server (`scripts/test.sh` skips `service::`).

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use nats_client::{
    Client, ClientEvent, Expected, HeaderMap, HeaderName, HeaderValue, Message, RequestError, Runtime,
};
use nats_integration_tests::{
    connect, connect_with, fast_reconnect, next_message, run_python, runtime_tests, spawn_python,
    wait_for_event, with_timeout, within, NatsServer,
};
use nats_service::{
    ConfigError, ErrorReply, InfoResponse, PingResponse, Service, ServiceBuilder, ServiceError,
    StatsResponse, ERROR_CODE_HEADER, ERROR_HEADER,
};
use serde_json::{json, Value};

runtime_tests!(
    service_endpoints_groups_and_errors,
    service_discovery_on_every_level,
    service_stats_count_requests_and_errors,
    service_queue_groups,
    service_stop,
    service_refuses_bad_configs,
    service_survives_malformed_requests,
    service_survives_a_server_restart,
    interop_nats_py_discovers_and_calls_our_service,
    interop_we_discover_and_call_a_nats_py_service,
    the_services_client_discovers_ours_and_a_nats_py_service,
    one_endpoint_stops_alone,
    a_service_from_the_client_alone,
);

fn text(payload: &[u8]) -> &str {
    std::str::from_utf8(payload).expect("UTF-8 payload")
}

/// A calculator: `calc.add` and `calc.div` (group "calc", queue group "calc-workers") answer
/// on a task through `serve`; "echo" (no group) echoes payload and headers.
async fn calculator<R: Runtime>(rt: &R, client: &Client, name: &str) -> Service {
    let service = within(
        rt,
        "start service",
        ServiceBuilder::new(name, "1.2.3-beta.1+build.7")
            .description("adds and divides")
            .metadata("region", "eu")
            .start(client),
    )
    .await
    .unwrap();
    let echo = within(rt, "add echo", service.endpoint("echo").metadata("kind", "echo").add()).await.unwrap();
    echo.serve(|request| async move {
        let result = match request.headers() {
            Some(headers) => request.respond_with_headers(headers, request.payload().clone()).await,
            None => request.respond(request.payload().clone()).await,
        };
        result.expect("reply");
    });
    let group = service.group("calc").queue_group("calc-workers");
    let add = within(rt, "add add", group.add_endpoint("add")).await.unwrap();
    add.serve(|request| async move {
        match numbers(request.payload()) {
            Some([a, b]) => request.respond((a + b).to_string().into()).await,
            None => request.error(400, "expected two integers").await,
        }
        .expect("reply");
    });
    let div = within(rt, "add div", group.endpoint("div").subject("divide").add()).await.unwrap();
    div.serve(|request| async move {
        match numbers(request.payload()) {
            Some([_, 0]) => request.error(422, "division by zero").await,
            Some([a, b]) => request.respond((a / b).to_string().into()).await,
            None => request.error(400, "expected two integers").await,
        }
        .expect("reply");
    });
    service
}

fn numbers(payload: &[u8]) -> Option<[i64; 2]> {
    let text = std::str::from_utf8(payload).ok()?;
    let (a, b) = text.split_once(',')?;
    Some([a.trim().parse().ok()?, b.trim().parse().ok()?])
}

async fn request<R: Runtime>(rt: &R, client: &Client, subject: &str, payload: &str) -> Message {
    within(rt, subject, client.request(subject, payload.to_owned().into())).await.unwrap()
}

/// How long [`gather_messages`] listens for replies beyond the expected ones.
const QUIET: Duration = Duration::from_millis(200);

/// The replies to a request to `subject` that `expected` services answer: all of them,
/// however long they take (within the wait's bound), then any more that come within
/// [`QUIET`]. A slow machine delays the expected replies, never fails the count; a reply
/// too many is seen when it comes with the others.
async fn gather_messages<R: Runtime>(
    rt: &R,
    client: &Client,
    subject: &str,
    expected: usize,
) -> Vec<Message> {
    let mut replies =
        client.request_many(subject, "".into(), Expected::UntilTimeout, Duration::from_secs(600)).unwrap();
    let mut got = Vec::new();
    while got.len() < expected {
        match within(rt, subject, replies.next()).await {
            Some(message) => got.push(message),
            None => return got,
        }
    }
    while let Ok(Some(message)) = with_timeout(rt, QUIET, replies.next()).await {
        got.push(message);
    }
    got
}

/// [`gather_messages`], each reply parsed.
async fn gather<R: Runtime, T: serde::de::DeserializeOwned>(
    rt: &R,
    client: &Client,
    subject: &str,
    expected: usize,
) -> Vec<T> {
    let replies = gather_messages(rt, client, subject, expected).await;
    replies.iter().map(|m| serde_json::from_slice(&m.payload).expect("a discovery response")).collect()
}

async fn service_endpoints_groups_and_errors<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service = calculator(&rt, &client, "calc").await;
    let caller = connect(&rt, &server.url()).await;

    assert_eq!(text(&request(&rt, &caller, "calc.add", "2, 40").await.payload), "42");
    assert_eq!(text(&request(&rt, &caller, "calc.divide", "84,2").await.payload), "42");
    let reply = request(&rt, &caller, "echo", "hello").await;
    assert_eq!(text(&reply.payload), "hello");
    assert_eq!(ErrorReply::from_message(&reply), None, "a normal reply is no error");

    // Headers travel both ways.
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::new("X-Trace").unwrap(), HeaderValue::new("t-1").unwrap());
    let reply =
        within(&rt, "echo", caller.request_with("echo", Some(&headers), "h".into(), Duration::from_secs(5)))
            .await
            .unwrap();
    assert_eq!(reply.headers.as_deref(), Some(&headers));

    // Error replies: the two standard headers, an empty payload.
    let reply = request(&rt, &caller, "calc.divide", "1,0").await;
    let headers = reply.headers.as_deref().expect("error headers");
    assert_eq!(headers.get(ERROR_CODE_HEADER).unwrap().as_str(), "422");
    assert_eq!(headers.get(ERROR_HEADER).unwrap().as_str(), "division by zero");
    assert!(reply.payload.is_empty());
    let error = ErrorReply::from_message(&reply).unwrap();
    assert_eq!((error.code_number(), error.description.as_str()), (Some(422), "division by zero"));
    let error = ErrorReply::from_message(&request(&rt, &caller, "calc.add", "two").await).unwrap();
    assert_eq!(error.to_string(), "400:expected two integers");

    // INFO lists the endpoints with their resolved subjects and queue groups.
    let info = service.info();
    let endpoints: Vec<_> = info
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.subject.as_str(), e.queue_group.as_str()))
        .collect();
    assert_eq!(
        endpoints,
        [("echo", "echo", "q"), ("add", "calc.add", "calc-workers"), ("div", "calc.divide", "calc-workers")]
    );
    assert_eq!(info.endpoints[0].metadata, BTreeMap::from([("kind".to_owned(), "echo".to_owned())]));
    assert_eq!(info.description, "adds and divides");

    within(&rt, "stop", service.stop()).await.unwrap();
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_discovery_on_every_level<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let calc = calculator(&rt, &client, "calc").await;
    let calc2 = calculator(&rt, &client, "calc").await;
    let other = within(&rt, "start", ServiceBuilder::new("other", "0.1.0").start(&client)).await.unwrap();
    // Under another API prefix: answers there only (the counts below exclude it).
    let alt = within(&rt, "start", ServiceBuilder::new("alt", "1.0.0").api_prefix("ALT.$SRV").start(&client))
        .await
        .unwrap();
    assert_ne!(calc.id(), calc2.id());
    let caller = connect(&rt, &server.url()).await;

    // The raw JSON, field by field, with the types the other clients expect.
    let subject = format!("$SRV.PING.calc.{}", calc.id());
    let ping: Value = serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    assert_eq!(
        ping,
        json!({"type": "io.nats.micro.v1.ping_response", "name": "calc", "id": calc.id(),
               "version": "1.2.3-beta.1+build.7", "metadata": {"region": "eu"}})
    );

    for (subject, mut expected) in [
        ("$SRV.PING".to_owned(), vec![calc.id(), calc2.id(), other.id()]),
        ("$SRV.PING.calc".to_owned(), vec![calc.id(), calc2.id()]),
        (format!("$SRV.PING.calc.{}", calc2.id()), vec![calc2.id()]),
        (format!("$SRV.PING.other.{}", other.id()), vec![other.id()]),
        (format!("$SRV.PING.other.{}", calc.id()), vec![]),
    ] {
        let pings: Vec<PingResponse> = gather(&rt, &caller, &subject, expected.len()).await;
        let mut ids: Vec<String> = pings.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected, "{subject}");
        assert!(pings.iter().all(|p| p.kind == "io.nats.micro.v1.ping_response"));
    }

    let pings: Vec<PingResponse> = gather(&rt, &caller, "ALT.$SRV.PING", 1).await;
    assert_eq!(pings.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [alt.id()]);
    let subject = format!("ALT.$SRV.INFO.alt.{}", alt.id());
    let info: InfoResponse =
        serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    assert_eq!(info.name, "alt");

    let infos: Vec<InfoResponse> = gather(&rt, &caller, "$SRV.INFO", 3).await;
    assert_eq!(infos.len(), 3);
    let infos: Vec<InfoResponse> = gather(&rt, &caller, "$SRV.INFO.calc", 2).await;
    assert_eq!(infos.len(), 2);
    let subject = format!("$SRV.INFO.calc.{}", calc.id());
    let info: InfoResponse =
        serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    assert_eq!(info, calc.info());
    assert_eq!(info.kind, "io.nats.micro.v1.info_response");
    let raw: Value = serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    assert_eq!(
        raw["endpoints"][1],
        json!({"name": "add", "subject": "calc.add", "queue_group": "calc-workers", "metadata": {}})
    );
    assert_eq!(raw["description"], json!("adds and divides"));

    let stats: Vec<StatsResponse> = gather(&rt, &caller, "$SRV.STATS", 3).await;
    assert_eq!(stats.len(), 3);
    assert!(stats.iter().all(|s| s.kind == "io.nats.micro.v1.stats_response" && s.started_time().is_some()));
    let stats: Vec<StatsResponse> = gather(&rt, &caller, "$SRV.STATS.other", 1).await;
    assert_eq!(stats.len(), 1);
    assert!(stats[0].endpoints.is_empty());
    let subject = format!("$SRV.STATS.calc.{}", calc2.id());
    let raw: Value = serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    let started = raw["started"].as_str().unwrap();
    assert!(nats_client::rfc3339::parse(started).is_some(), "{started}");
    assert_eq!(
        raw["endpoints"][0],
        json!({"name": "echo", "subject": "echo", "queue_group": "q", "num_requests": 0, "num_errors": 0,
               "last_error": "", "processing_time": 0, "average_processing_time": 0, "data": null})
    );

    for service in [calc, calc2, other, alt] {
        within(&rt, "stop", service.stop()).await.unwrap();
    }
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_stats_count_requests_and_errors<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service = within(
        &rt,
        "start",
        ServiceBuilder::new("counted", "1.0.0")
            .stats_handler(|stats| json!({"double": stats.num_requests * 2}))
            .start(&client),
    )
    .await
    .unwrap();
    // Handled inline as a stream, here, between the calls.
    let mut endpoint = within(&rt, "add", service.add_endpoint("work")).await.unwrap();
    let caller = connect(&rt, &server.url()).await;

    for i in 0..5 {
        let reply = caller.request("work", i.to_string().into());
        let handle = async {
            let request = within(&rt, "request", endpoint.next()).await.expect("a request");
            if i % 2 == 0 {
                request.respond("ok".into()).await.unwrap();
            } else {
                request.error(500, &format!("failure {i}")).await.unwrap();
            }
        };
        let (reply, ()) = within(&rt, "request and reply", futures_util::future::join(reply, handle)).await;
        assert_eq!(ErrorReply::from_message(&reply.unwrap()).is_some(), i % 2 == 1);
    }
    // A request dropped without a reply still counts, without an error.
    let reply = caller.request_with("work", None, "dropped".into(), Duration::from_millis(200));
    let drop_it = async { drop(within(&rt, "request", endpoint.next()).await.expect("a request")) };
    let (reply, ()) = within(&rt, "dropped request", futures_util::future::join(reply, drop_it)).await;
    assert_eq!(reply.unwrap_err(), RequestError::Timeout);

    let subject = format!("$SRV.STATS.counted.{}", service.id());
    let stats: StatsResponse =
        serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    let work = &stats.endpoints[0];
    assert_eq!((work.num_requests, work.num_errors), (6, 2));
    assert_eq!(work.last_error, "500:failure 3");
    assert!(work.processing_time > 0);
    assert_eq!(work.average_processing_time, work.processing_time / 6);
    assert_eq!(work.data, Some(json!({"double": 12})));
    assert_eq!(stats, service.stats(), "the service's own view is what STATS sends");

    service.reset();
    let stats: StatsResponse =
        serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    let work = &stats.endpoints[0];
    assert_eq!(
        (work.num_requests, work.num_errors, work.processing_time, work.last_error.as_str()),
        (0, 0, 0, "")
    );

    within(&rt, "stop", service.stop()).await.unwrap();
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_queue_groups<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut services = Vec::new();
    for i in 0..2 {
        let service = within(&rt, "start", ServiceBuilder::new("qg", "1.0.0").start(&client)).await.unwrap();
        // "shared" in the default queue group: one instance answers each request.
        service.add_endpoint("shared").await.unwrap().serve(move |r| async move {
            r.respond(format!("shared {i}").into()).await.unwrap();
        });
        // "fanout" without a queue group (set on the group): every instance answers.
        let fanout = service.group("").no_queue_group().add_endpoint("fanout").await.unwrap();
        assert_eq!(fanout.info().queue_group, "");
        fanout.serve(move |r| async move {
            r.respond(format!("fanout {i}").into()).await.unwrap();
        });
        services.push(service);
    }
    // A whole service without queue groups.
    let plain = within(&rt, "start", ServiceBuilder::new("plain", "1.0.0").no_queue_group().start(&client))
        .await
        .unwrap();
    let endpoint = plain.add_endpoint("fanout").await.unwrap();
    assert_eq!(endpoint.info().queue_group, "");
    endpoint.serve(|r| async move { r.respond("fanout plain".into()).await.unwrap() });

    let caller = connect(&rt, &server.url()).await;
    assert_eq!(gather_messages(&rt, &caller, "shared", 1).await.len(), 1, "one queue member answers");
    let replies = gather_messages(&rt, &caller, "fanout", 3).await;
    let mut got: Vec<String> = replies.iter().map(|m| text(&m.payload).to_owned()).collect();
    got.sort();
    assert_eq!(got, ["fanout 0", "fanout 1", "fanout plain"]);

    let info: InfoResponse = serde_json::from_slice(
        &request(&rt, &caller, &format!("$SRV.INFO.plain.{}", plain.id()), "").await.payload,
    )
    .unwrap();
    assert_eq!(info.endpoints[0].queue_group, "");

    for service in services.iter().chain([&plain]) {
        within(&rt, "stop", service.stop()).await.unwrap();
    }
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_stop<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service = within(&rt, "start", ServiceBuilder::new("stopper", "1.0.0").start(&client)).await.unwrap();
    let mut endpoint = within(&rt, "add", service.add_endpoint("work")).await.unwrap();
    let mut idle = within(&rt, "add", service.add_endpoint("idle")).await.unwrap();
    let caller = connect(&rt, &server.url()).await;
    request(&rt, &caller, "$SRV.PING.stopper", "").await;

    // A request received before the stop is still handed out, then the stream ends.
    let mut replies = caller.subscribe("reply.here").await.unwrap();
    caller.publish_with_reply("work", "reply.here", "late".into()).await.unwrap();
    within(&rt, "flush", caller.flush()).await.unwrap();
    // The server wrote the request to the service's connection before the PONG of this
    // flush: once it returns, the request is in the endpoint's queue.
    within(&rt, "flush", client.flush()).await.unwrap();

    // A reader task parked on an idle endpoint is woken by the stop, and its stream ends.
    let mut idle_ended = caller.subscribe("idle.ended").await.unwrap();
    within(&rt, "flush", caller.flush()).await.unwrap();
    let signal = client.clone();
    rt.spawn(async move {
        while let Some(request) = idle.next().await {
            request.respond("idle".into()).await.unwrap();
        }
        signal.publish("idle.ended", "".into()).await.unwrap();
    });
    // Once it has answered, the task is back waiting on its stream.
    assert_eq!(text(&request(&rt, &caller, "idle", "").await.payload), "idle");

    within(&rt, "stop", service.stop()).await.unwrap();
    next_message(&rt, &mut idle_ended).await;
    assert!(service.is_stopped());
    let late = within(&rt, "the request received before stop", endpoint.next()).await.expect("a request");
    assert_eq!(text(late.payload()), "late");
    late.respond("answered".into()).await.unwrap();
    assert_eq!(text(&next_message(&rt, &mut replies).await.payload), "answered");
    assert!(within(&rt, "end of the endpoint stream", endpoint.next()).await.is_none());

    // Nothing answers any more.
    for subject in ["work", "idle", "$SRV.PING", "$SRV.INFO.stopper", "$SRV.STATS"] {
        assert_eq!(
            within(&rt, subject, caller.request(subject, "".into())).await.unwrap_err(),
            RequestError::NoResponders,
            "{subject}"
        );
    }
    assert!(matches!(within(&rt, "add", service.add_endpoint("more")).await, Err(ServiceError::Stopped)));
    within(&rt, "stop again", service.stop()).await.unwrap();
    // The statistics survive the stop.
    assert_eq!(service.stats().endpoints[0].num_requests, 1);
    within(&rt, "stopped", service.stopped()).await;

    // Closing the connection stops a service too.
    let own = connect(&rt, &server.url()).await;
    let orphan = within(&rt, "start", ServiceBuilder::new("orphan", "1.0.0").start(&own)).await.unwrap();
    let mut orphan_endpoint = within(&rt, "add", orphan.add_endpoint("o")).await.unwrap();
    assert!(!orphan.is_stopped());
    within(&rt, "close", own.close()).await;
    within(&rt, "stopped by the close", orphan.stopped()).await;
    assert!(orphan.is_stopped());
    assert!(within(&rt, "endpoint end", orphan_endpoint.next()).await.is_none());
    assert!(matches!(within(&rt, "add", orphan.add_endpoint("more")).await, Err(ServiceError::Stopped)));

    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_refuses_bad_configs<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let huge = "n".repeat(1 << 20) + " ";
    for (name, version) in [("bad name", "1.0.0"), ("ok", "1.0"), ("ok", "01.0.0"), (huge.as_str(), "1.0.0")]
    {
        let result = within(&rt, "start", ServiceBuilder::new(name, version).start(&client)).await;
        assert!(matches!(result, Err(ServiceError::Config(_))), "{:?}", result.map(|s| s.id()));
    }
    let result =
        within(&rt, "start", ServiceBuilder::new("ok", "1.0.0").queue_group("a b").start(&client)).await;
    assert!(matches!(result, Err(ServiceError::Config(ConfigError::InvalidQueueGroup(_)))));
    // Nothing was subscribed for the refused services.
    let caller = connect(&rt, &server.url()).await;
    assert_eq!(
        within(&rt, "ping", caller.request("$SRV.PING", "".into())).await.unwrap_err(),
        RequestError::NoResponders
    );

    let service = within(&rt, "start", ServiceBuilder::new("ok", "1.0.0").start(&client)).await.unwrap();
    for builder in [
        service.endpoint("bad name"),
        service.endpoint("ok").subject("a..b"),
        service.endpoint("ok").subject(">.a"),
        service.endpoint("ok").queue_group(""),
        service.group("a.>").endpoint("ok"),
    ] {
        assert!(matches!(within(&rt, "add", builder.add()).await, Err(ServiceError::Config(_))));
    }
    assert!(service.info().endpoints.is_empty());
    within(&rt, "stop", service.stop()).await.unwrap();
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_survives_malformed_requests<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service = within(&rt, "start", ServiceBuilder::new("robust", "1.0.0").start(&client)).await.unwrap();
    let mut endpoint = within(&rt, "add", service.add_endpoint("work")).await.unwrap();
    let caller = connect(&rt, &server.url()).await;

    // Discovery requests without a reply subject, with garbage payloads and headers.
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::new("Nats-Service-Error-Code").unwrap(), HeaderValue::new("x").unwrap());
    for subject in ["$SRV.PING", "$SRV.INFO.robust", "$SRV.STATS.robust.nope"] {
        caller.publish(subject, vec![0xff; 70_000].into()).await.unwrap();
        caller.publish_with_headers(subject, &headers, "{".into()).await.unwrap();
    }
    // A request without a reply subject: it cannot be answered, and still counts.
    caller.publish("work", "no reply".into()).await.unwrap();
    let unanswerable = within(&rt, "request", endpoint.next()).await.expect("a request");
    assert_eq!(unanswerable.respond("x".into()).await, Err(nats_service::RespondError::NoReplySubject));
    assert_eq!(unanswerable.error(500, "x").await, Err(nats_service::RespondError::NoReplySubject));
    drop(unanswerable);
    // An error description that is not a valid header value is made one.
    let reply = caller.request("work", "bad".into());
    let handle = async {
        let request = within(&rt, "request", endpoint.next()).await.expect("a request");
        request.error(400, " two\r\nlines ").await.unwrap();
    };
    let (reply, ()) = within(&rt, "error reply", futures_util::future::join(reply, handle)).await;
    let error = ErrorReply::from_message(&reply.unwrap()).unwrap();
    assert_eq!((error.code.as_str(), error.description.as_str()), ("400", "two  lines"));

    // The service still answers, and counted both requests.
    let stats: StatsResponse =
        serde_json::from_slice(&request(&rt, &caller, "$SRV.STATS.robust", "").await.payload).unwrap();
    assert_eq!((stats.endpoints[0].num_requests, stats.endpoints[0].num_errors), (2, 1));
    assert_eq!(stats.endpoints[0].last_error, "400: two\r\nlines ", "last_error keeps the text as given");

    within(&rt, "stop", service.stop()).await.unwrap();
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

async fn service_survives_a_server_restart<R: Runtime>(rt: R) {
    let mut server = NatsServer::plain();
    let client = connect_with(&rt, &server.url(), fast_reconnect()).await;
    let mut events = client.events();
    let service = calculator(&rt, &client, "calc").await;
    let caller = connect(&rt, &server.url()).await;
    assert_eq!(text(&request(&rt, &caller, "calc.add", "1,1").await.payload), "2");
    within(&rt, "close", caller.close()).await;

    server.restart();
    wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    // The client resubscribed before anything else it sends: after this flush the server
    // has the service's subscriptions again.
    within(&rt, "flush", client.flush()).await.unwrap();

    let caller = connect(&rt, &server.url()).await;
    assert_eq!(text(&request(&rt, &caller, "calc.add", "2,2").await.payload), "4");
    let subject = format!("$SRV.STATS.calc.{}", service.id());
    let stats: StatsResponse =
        serde_json::from_slice(&request(&rt, &caller, &subject, "").await.payload).unwrap();
    assert_eq!(stats.endpoints[1].num_requests, 2, "the statistics span the restart");
    assert!(!service.is_stopped());

    within(&rt, "stop", service.stop()).await.unwrap();
    within(&rt, "close", caller.close()).await;
    within(&rt, "close", client.close()).await;
}

/// nats-py discovers our service, calls it, gets an error reply, and parses our PING, INFO
/// and STATS with its own types (`ServicePing/ServiceInfo/ServiceStats.from_dict`).
const PY_DISCOVER: &str = r#"
import asyncio, json, sys
import nats
from nats.micro.service import ServicePing, ServiceInfo, ServiceStats

async def main():
    nc = await nats.connect(sys.argv[1])
    name, sid = sys.argv[2], sys.argv[3]
    async def ask(subject, data=b"", headers=None):
        return await nc.request(subject, data, timeout=5, headers=headers)
    out = {}
    ping = ServicePing.from_dict(json.loads((await ask(f"$SRV.PING.{name}")).data))
    out["ping"] = {"id": ping.id, "name": ping.name, "version": ping.version, "metadata": ping.metadata, "type": ping.type}
    info = ServiceInfo.from_dict(json.loads((await ask(f"$SRV.INFO.{name}.{sid}")).data))
    out["info"] = {"id": info.id, "type": info.type, "description": info.description, "metadata": info.metadata,
                   "endpoints": [[e.name, e.subject, e.queue_group, e.metadata] for e in info.endpoints]}
    out["add"] = (await ask("calc.add", b"40,2")).data.decode()
    err = await ask("calc.divide", b"1,0")
    out["error"] = [err.headers.get("Nats-Service-Error-Code"), err.headers.get("Nats-Service-Error"), err.data.decode()]
    echo = await ask("echo", b"e", headers={"X-Py": "1"})
    out["echo"] = [echo.data.decode(), echo.headers.get("X-Py")]
    stats = ServiceStats.from_dict(json.loads((await ask(f"$SRV.STATS.{name}.{sid}")).data))
    out["stats"] = {"id": stats.id, "started_year": stats.started.year, "metadata": stats.metadata,
                    "endpoints": [[e.name, e.subject, e.queue_group, e.num_requests, e.num_errors, e.last_error,
                                   e.processing_time, e.average_processing_time, e.data] for e in stats.endpoints]}
    # Every instance answers the all-services subject.
    replies = []
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("$SRV.PING", b"", reply=inbox)
    replies.append(json.loads((await sub.next_msg(timeout=5)).data))
    out["all"] = [r["id"] for r in replies]
    print(json.dumps(out))
    await nc.close()

asyncio.run(asyncio.wait_for(main(), 30))
"#;

async fn interop_nats_py_discovers_and_calls_our_service<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service = calculator(&rt, &client, "calc").await;
    let id = service.id();
    // Every endpoint is served on tasks, so blocking this thread on Python is fine.
    let output = run_python(PY_DISCOVER, &[&server.url(), "calc", &id]);
    let out: Value = serde_json::from_str(output.stdout.trim()).expect("the script's JSON");

    assert_eq!(
        out["ping"],
        json!({"id": id, "name": "calc", "version": "1.2.3-beta.1+build.7", "metadata": {"region": "eu"},
               "type": "io.nats.micro.v1.ping_response"})
    );
    assert_eq!(
        out["info"],
        json!({"id": id, "type": "io.nats.micro.v1.info_response", "description": "adds and divides",
               "metadata": {"region": "eu"},
               "endpoints": [["echo", "echo", "q", {"kind": "echo"}], ["add", "calc.add", "calc-workers", {}],
                             ["div", "calc.divide", "calc-workers", {}]]})
    );
    assert_eq!(out["add"], json!("42"));
    assert_eq!(out["error"], json!(["422", "division by zero", ""]));
    assert_eq!(out["echo"], json!(["e", "1"]));
    assert_eq!(out["all"], json!([id]));
    let stats = &out["stats"];
    assert_eq!(stats["id"], json!(id));
    assert!(stats["started_year"].as_u64().unwrap() >= 2024);
    let endpoints = stats["endpoints"].as_array().unwrap();
    let summary: Vec<Value> =
        endpoints.iter().map(|e| json!([e[0], e[1], e[2], e[3], e[4], e[5], e[8]])).collect();
    assert_eq!(
        summary,
        [
            json!(["echo", "echo", "q", 1, 0, "", null]),
            json!(["add", "calc.add", "calc-workers", 1, 0, "", null]),
            json!(["div", "calc.divide", "calc-workers", 1, 1, "422:division by zero", null]),
        ]
    );
    for e in endpoints {
        let (total, average) = (e[6].as_u64().unwrap(), e[7].as_u64().unwrap());
        assert!(total > 0 && average == total, "one request each: {e}");
    }

    within(&rt, "stop", service.stop()).await.unwrap();
    within(&rt, "close", client.close()).await;
}

/// A nats-py micro service: endpoint "hello" (metadata), group "py" with endpoint "fail" in
/// queue group "pyq" raising a `ServiceError`. Announces itself on `py.ready`, stops on
/// `py.stop`.
const PY_SERVICE: &str = r#"
import asyncio, sys
import nats
from nats.micro import add_service
from nats.micro.request import ServiceError

async def main():
    nc = await nats.connect(sys.argv[1])
    svc = await add_service(nc, name="pysvc", version="0.3.1", description="from python",
                            metadata={"lang": "python"})
    async def hello(req):
        await req.respond(b"hello " + req.data)
    async def fail(req):
        raise ServiceError("418", "teapot")
    await svc.add_endpoint(name="hello", handler=hello, metadata={"m": "1"})
    await svc.add_group(name="py", queue_group="pyq").add_endpoint(name="fail", handler=fail)
    stop = asyncio.Event()
    async def on_stop(msg):
        stop.set()
    await nc.subscribe("py.stop", cb=on_stop)
    await nc.flush()
    await nc.publish("py.ready", svc.id.encode())
    await nc.flush()
    await asyncio.wait_for(stop.wait(), 30)
    await svc.stop()
    await nc.close()

asyncio.run(main())
"#;

async fn interop_we_discover_and_call_a_nats_py_service<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut ready = client.subscribe("py.ready").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let child = spawn_python(PY_SERVICE, &[&server.url()]);
    let id = text(&next_message(&rt, &mut ready).await.payload).to_owned();

    let pings: Vec<PingResponse> = gather(&rt, &client, "$SRV.PING", 1).await;
    assert_eq!(pings.len(), 1);
    let ping = &pings[0];
    assert_eq!(
        (ping.kind.as_str(), ping.name.as_str(), ping.id.as_str()),
        (nats_service::PING_RESPONSE_TYPE, "pysvc", id.as_str())
    );
    assert_eq!(ping.version, "0.3.1");
    assert_eq!(ping.metadata, BTreeMap::from([("lang".to_owned(), "python".to_owned())]));

    let info: InfoResponse =
        serde_json::from_slice(&request(&rt, &client, &format!("$SRV.INFO.pysvc.{id}"), "").await.payload)
            .unwrap();
    assert_eq!(info.kind, nats_service::INFO_RESPONSE_TYPE);
    assert_eq!(info.description, "from python");
    let endpoints: Vec<_> = info
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.subject.as_str(), e.queue_group.as_str()))
        .collect();
    assert_eq!(endpoints, [("hello", "hello", "q"), ("fail", "py.fail", "pyq")]);
    assert_eq!(info.endpoints[0].metadata, BTreeMap::from([("m".to_owned(), "1".to_owned())]));
    assert!(info.endpoints[1].metadata.is_empty(), "nats-py sends null: read as empty");

    assert_eq!(text(&request(&rt, &client, "hello", "rust").await.payload), "hello rust");
    let error =
        ErrorReply::from_message(&request(&rt, &client, "py.fail", "").await).expect("an error reply");
    assert_eq!((error.code.as_str(), error.description.as_str()), ("418", "teapot"));

    let stats: StatsResponse =
        serde_json::from_slice(&request(&rt, &client, "$SRV.STATS.pysvc", "").await.payload).unwrap();
    assert_eq!(stats.kind, nats_service::STATS_RESPONSE_TYPE);
    assert!(stats.started_time().is_some(), "nats-py's started parses: {}", stats.started);
    let hello = &stats.endpoints[0];
    assert_eq!((hello.num_requests, hello.num_errors, hello.last_error.as_str()), (1, 0, ""));
    assert!(hello.processing_time > 0 && hello.average_processing_time == hello.processing_time);
    let fail = &stats.endpoints[1];
    assert_eq!((fail.num_requests, fail.num_errors, fail.last_error.as_str()), (1, 1, "418:teapot"));
    assert_eq!(fail.data, None);

    client.publish("py.stop", "".into()).await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    child.wait();
    within(&rt, "close", client.close()).await;
}

/// The services client: ping, info and stats across every instance (one here, one in
/// nats-py), by name, and by name and id, as typed responses; a stream and a collected
/// form.
async fn the_services_client_discovers_ours_and_a_nats_py_service<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let mut ready = client.subscribe("py.ready").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    let child = spawn_python(PY_SERVICE, &[&server.url()]);
    let python_id = text(&next_message(&rt, &mut ready).await.payload).to_owned();
    let ours = calculator(&rt, &client, "calc").await;
    let our_id = ours.id();
    within(&rt, "call", client.request("calc.add", "1 2".into())).await.unwrap();

    // A wait far past a local reply, even on a loaded machine: the collections end with it.
    let services = nats_service::ServiceClient::new(client.clone()).timeout(Duration::from_secs(2));
    let mut pings = within(&rt, "ping", services.ping(None)).await.unwrap();
    pings.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<_> = pings.iter().map(|p| (p.name.as_str(), p.id.as_str())).collect();
    assert_eq!(names, [("calc", our_id.as_str()), ("pysvc", python_id.as_str())]);

    let infos = within(&rt, "info by name", services.info(Some("pysvc"))).await.unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].description, "from python");
    let stats = within(&rt, "stats of ours", services.stats_instance("calc", &our_id)).await.unwrap();
    let add = stats.endpoints.iter().find(|e| e.name == "add").expect("the add endpoint");
    assert_eq!(add.num_requests, 1);
    let mut stream = services.stats_stream(Some("pysvc")).unwrap();
    let first = within(&rt, "stats stream", stream.next()).await.expect("an instance").unwrap();
    assert_eq!(first.id, python_id);
    assert!(within(&rt, "end of the wait", stream.next()).await.is_none());
    let err = within(&rt, "missing instance", services.ping_instance("calc", "nope")).await.unwrap_err();
    assert_eq!(err, nats_service::DiscoveryError::NotFound);

    client.publish("py.stop", "".into()).await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    child.wait();
    within(&rt, "stop", ours.stop()).await.unwrap();
}

async fn one_endpoint_stops_alone<R: Runtime>(rt: R) {
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service = within(&rt, "start", ServiceBuilder::new("two", "1.0.0").start(&client)).await.unwrap();
    let mut first = within(&rt, "first", service.add_endpoint("first")).await.unwrap();
    let kept = within(&rt, "second", service.add_endpoint("second")).await.unwrap();
    kept.serve(|request| async move {
        let _ = request.respond("still here".into()).await;
    });
    within(&rt, "stop first", first.stop()).await.unwrap();
    assert!(within(&rt, "end", first.next()).await.is_none(), "its stream ends");
    let err = within(&rt, "stopped", client.request("first", "".into())).await.unwrap_err();
    assert!(matches!(err, RequestError::NoResponders), "{err:?}");
    let reply = within(&rt, "kept", client.request("second", "".into())).await.unwrap();
    assert_eq!(text(&reply.payload), "still here");
    let names: Vec<String> = service.info().endpoints.into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["second"]);
    assert!(!service.is_stopped());
    within(&rt, "stop", service.stop()).await.unwrap();
}

/// `client.service_builder()` (async-nats' form): no runtime passed, the handler tasks and
/// the discovery task run on the client's runtime.
async fn a_service_from_the_client_alone<R: Runtime>(rt: R) {
    use nats_service::ServiceExt;
    let server = NatsServer::plain();
    let client = connect(&rt, &server.url()).await;
    let service =
        within(&rt, "start", client.service_builder().description("no runtime").start("solo", "0.1.0"))
            .await
            .unwrap();
    within(&rt, "endpoint", service.group("solo").add_endpoint("echo")).await.unwrap().serve(
        |request| async move {
            let _ = request.respond(request.payload().clone()).await;
        },
    );
    let reply = within(&rt, "call", client.request("solo.echo", "hi".into())).await.unwrap();
    assert_eq!(text(&reply.payload), "hi", "served on the client's runtime");
    let pings = within(
        &rt,
        "ping",
        nats_service::ServiceClient::new(client.clone()).ping_instance("solo", &service.id()),
    )
    .await
    .unwrap();
    assert_eq!(pings.name, "solo");
    let other =
        within(&rt, "add_service", client.add_service(nats_service::ServiceConfig::new("other", "1.0.0")))
            .await
            .unwrap();
    assert_eq!(other.info().name, "other");
    within(&rt, "stop", other.stop()).await.unwrap();
    within(&rt, "stop", service.stop()).await.unwrap();
}
