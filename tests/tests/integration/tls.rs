//! TLS against a real server with certificates generated at test time, each on tokio, smol
//! and async-std: a verified CA (`tls://` URLs and servers that require TLS), client
//! certificates for `verify: true` servers, and the failures (no client certificate, a CA
//! that did not sign the server's certificate, TLS required but not offered).

use std::sync::Arc;

use futures_util::StreamExt;
use nats_client::{
    Client, ClientEvent, ConnectError, ConnectOptions, ConnectionError, Runtime, TransportErrorKind,
};
use nats_integration_tests::{
    connect_with, fast_reconnect, next_message, own_process_runtime_tests, runtime_tests, try_connect,
    wait_for_event, within, NatsServer, ServerConfig, TlsFiles,
};

runtime_tests!(
    tls_verified_ca,
    tls_client_certificate,
    tls_client_certificate_missing,
    tls_bad_ca,
    tls_name_mismatch,
    tls_required_but_not_offered,
    tls_reconnect,
);

// The system's store is read once per process: each of these runs in a process of its own,
// whose store is the test CA (`SSL_CERT_FILE`, read by rustls-native-certs).
own_process_runtime_tests!(system_roots);

async fn assert_usable<R: Runtime>(rt: &R, client: &Client) {
    let mut sub = client.subscribe("tls.check").await.unwrap();
    within(rt, "flush", client.flush()).await.unwrap();
    client.publish("tls.check", "secret".into()).await.unwrap();
    assert_eq!(&next_message(rt, &mut sub).await.payload[..], b"secret");
    within(rt, "close", client.close()).await;
    assert_eq!(within(rt, "end", sub.next()).await, None);
}

/// The last attempt's error of a failed connect.
fn last_error(error: &ConnectError) -> &ConnectionError {
    match error {
        ConnectError::NoServers { last: Some(last) } => last,
        other => panic!("expected NoServers with a cause, got {other:?}"),
    }
}

async fn tls_verified_ca<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let server = NatsServer::start(ServerConfig::new().tls(&files, false));
    let options = || ConnectOptions::new().add_root_certificates(&files.ca);

    // A tls:// URL.
    let client = connect_with(&rt, &server.tls_url(), options()).await;
    let info = client.server_info().expect("INFO");
    assert!(info.tls_required);
    assert!(client.connected_url().is_some_and(|u| u.tls()));
    assert_usable(&rt, &client).await;

    // A host name, verified against the certificate's DNS name.
    let url = format!("tls://localhost:{}", server.port());
    let client = connect_with(&rt, &url, options()).await;
    assert_usable(&rt, &client).await;

    // A nats:// URL: the server's INFO requires TLS, and the client upgrades.
    let client = connect_with(&rt, &server.url(), options()).await;
    assert_usable(&rt, &client).await;

    // The CA as PEM text instead of a file.
    let pem = std::fs::read(&files.ca).unwrap();
    let options = ConnectOptions::new().add_root_certificate_pem(&pem).unwrap().require_tls(true);
    let client = connect_with(&rt, &server.url(), options).await;
    assert_usable(&rt, &client).await;

    // Without the CA, the operating system's roots do not know the server's certificate.
    let error = try_connect(&rt, &server.tls_url(), ConnectOptions::new()).await.unwrap_err();
    assert!(
        matches!(last_error(&error), ConnectionError::Transport(e) if e.kind() == TransportErrorKind::Tls),
        "{error:?}"
    );
}

async fn tls_client_certificate<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let server = NatsServer::start(ServerConfig::new().tls(&files, true));
    let options = ConnectOptions::new()
        .add_root_certificates(&files.ca)
        .client_certificate(&files.client_cert, &files.client_key);
    let client = connect_with(&rt, &server.tls_url(), options).await;
    assert_eq!(client.server_info().map(|i| i.tls_verify), Some(true));
    assert_usable(&rt, &client).await;
}

async fn tls_client_certificate_missing<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let server = NatsServer::start(ServerConfig::new().tls(&files, true));
    let options = ConnectOptions::new().add_root_certificates(&files.ca);
    let error =
        try_connect(&rt, &server.tls_url(), options).await.expect_err("a client certificate is required");
    // The server rejects the handshake (with TLS 1.3 the client learns it on its first read).
    assert!(matches!(last_error(&error), ConnectionError::Transport(_)), "{error:?}");
    assert!(!error.is_auth_error());

    // A certificate the server's CA did not sign is rejected too.
    let other = TlsFiles::generate();
    let options = ConnectOptions::new()
        .add_root_certificates(&files.ca)
        .client_certificate(&other.client_cert, &other.client_key);
    let error =
        try_connect(&rt, &server.tls_url(), options).await.expect_err("an unknown client certificate");
    assert!(matches!(last_error(&error), ConnectionError::Transport(_)), "{error:?}");
}

async fn tls_bad_ca<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let server = NatsServer::start(ServerConfig::new().tls(&files, false));
    let options = ConnectOptions::new().add_root_certificates(&files.other_ca);
    let error =
        try_connect(&rt, &server.tls_url(), options).await.expect_err("the CA did not sign the server");
    let ConnectionError::Transport(transport) = last_error(&error) else { panic!("{error:?}") };
    assert_eq!(transport.kind(), TransportErrorKind::Tls, "{transport}");
    assert!(transport.message().to_lowercase().contains("certificate"), "{transport}");
}

async fn tls_name_mismatch<R: Runtime>(rt: R) {
    // The CA is trusted, but the certificate names another host than the one dialled.
    let files = Arc::new(TlsFiles::generate_for(&["other.invalid"]));
    let server = NatsServer::start(ServerConfig::new().tls(&files, false));
    let options = ConnectOptions::new().add_root_certificates(&files.ca);
    let error = try_connect(&rt, &server.tls_url(), options).await.expect_err("the name does not match");
    let ConnectionError::Transport(transport) = last_error(&error) else { panic!("{error:?}") };
    assert_eq!(transport.kind(), TransportErrorKind::Tls, "{transport}");
    assert!(transport.message().contains("not valid for name"), "{transport}");
}

async fn tls_required_but_not_offered<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let server = NatsServer::plain();
    let options = ConnectOptions::new().add_root_certificates(&files.ca);
    let error = try_connect(&rt, &server.tls_url(), options).await.expect_err("the server offers no TLS");
    assert_eq!(last_error(&error), &ConnectionError::TlsNotAvailable);
    let options = ConnectOptions::new().add_root_certificates(&files.ca).require_tls(true);
    let error = try_connect(&rt, &server.url(), options).await.expect_err("the server offers no TLS");
    assert_eq!(last_error(&error), &ConnectionError::TlsNotAvailable);
}

async fn tls_reconnect<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    let mut server = NatsServer::start(ServerConfig::new().tls(&files, true));
    let options = fast_reconnect()
        .add_root_certificates(&files.ca)
        .client_certificate(&files.client_cert, &files.client_key);
    let client = connect_with(&rt, &server.tls_url(), options).await;
    let mut events = client.events();
    let mut sub = client.subscribe("tls.again").await.unwrap();
    within(&rt, "flush", client.flush()).await.unwrap();
    server.restart();
    wait_for_event(&rt, &mut events, "Reconnected", |e| matches!(e, ClientEvent::Reconnected(_))).await;
    assert!(client.connected_url().is_some_and(|u| u.tls()));
    client.publish("tls.again", "over TLS again".into()).await.unwrap();
    assert_eq!(&next_message(&rt, &mut sub).await.payload[..], b"over TLS again");
    within(&rt, "close", client.close()).await;
}

/// The operating system's roots are the default trust; roots given in the options replace
/// them unless `system_root_certificates(true)` keeps them.
async fn system_roots<R: Runtime>(rt: R) {
    let files = Arc::new(TlsFiles::generate());
    // Before the first TLS connection of this process, which reads the store.
    std::env::set_var("SSL_CERT_FILE", &files.ca);
    std::env::remove_var("SSL_CERT_DIR");
    let server = NatsServer::start(ServerConfig::new().tls(&files, false));

    // No roots in the options: the system's, which hold the test CA.
    let client = connect_with(&rt, &server.tls_url(), ConnectOptions::new()).await;
    assert_usable(&rt, &client).await;

    // Roots of the application's own replace the system's...
    let other = || ConnectOptions::new().add_root_certificates(&files.other_ca);
    let error = try_connect(&rt, &server.tls_url(), other()).await.unwrap_err();
    assert!(
        matches!(last_error(&error), ConnectionError::Transport(e) if e.kind() == TransportErrorKind::Tls),
        "{error:?}"
    );
    // ... unless the system's are asked for as well.
    let client = connect_with(&rt, &server.tls_url(), other().system_root_certificates(true)).await;
    assert_usable(&rt, &client).await;

    // And without them, nothing is trusted.
    let none = ConnectOptions::new().system_root_certificates(false);
    let error = try_connect(&rt, &server.tls_url(), none).await.unwrap_err();
    assert!(
        matches!(last_error(&error), ConnectionError::Transport(e) if e.kind() == TransportErrorKind::Tls),
        "{error:?}"
    );
}
