//! Handshake scenarios for every kind of credentials, verified as a server would verify
//! them, plus rejected credentials and secrets kept out of `Debug` output.

use crate::harness;

use std::time::Duration;

use harness::{err, info_with, options, Harness};
use nats_proto::{
    Action, Auth, AuthError, ConnectInfo, ConnectionError, Credentials, Event, Options, Secret,
    ServerErrorKind, Signer, State,
};

/// Connects with `options` to a server announcing `info`; returns the CONNECT it got.
fn connect_with(options: Options, info: nats_proto::ServerInfo) -> ConnectInfo {
    let mut h = Harness::new(options);
    let connect = h.handshake(info);
    assert_eq!(h.conn.state(), State::Connected);
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
    connect
}

/// What a server does with `nkey`/`sig`: decode the base64url signature and verify it over
/// the nonce's bytes with the public key.
fn verify_sig(public_key: &str, nonce: &str, sig: &Secret) -> bool {
    let Ok(raw) = data_encoding::BASE64URL_NOPAD.decode(sig.expose().as_bytes()) else { return false };
    let verifier = nkeys::KeyPair::from_public_key(public_key).expect("a valid public key");
    verifier.verify(nonce.as_bytes(), &raw).is_ok()
}

const NONCE: &str = "dX6jIMW0uFsXq9w";

#[test]
fn user_and_password_from_options() {
    let options = options("nats://127.0.0.1:4222")
        .with_auth(Auth::UserPassword { user: "alice".into(), password: Secret::new("opt-pass-1") });
    let connect = connect_with(options, info_with(|i| i.auth_required = true));
    assert_eq!(connect.user.as_deref(), Some("alice"));
    assert_eq!(connect.pass.as_ref().map(Secret::expose), Some("opt-pass-1"));
    assert!(connect.auth_token.is_none() && connect.nkey.is_none());
    assert!(connect.sig.is_none() && connect.jwt.is_none());
}

#[test]
fn user_and_password_from_the_url() {
    let connect =
        connect_with(options("nats://bob:s3cr%40t@127.0.0.1:4222"), info_with(|i| i.auth_required = true));
    assert_eq!(connect.user.as_deref(), Some("bob"));
    assert_eq!(connect.pass.as_ref().map(Secret::expose), Some("s3cr@t"), "percent-decoded");
    assert!(connect.auth_token.is_none());
}

#[test]
fn url_credentials_take_precedence_over_options() {
    let options =
        options("nats://carol:url-pass@127.0.0.1:4222").with_auth(Auth::Token(Secret::new("option-token")));
    let connect = connect_with(options, info_with(|i| i.auth_required = true));
    assert_eq!(connect.user.as_deref(), Some("carol"));
    assert_eq!(connect.pass.as_ref().map(Secret::expose), Some("url-pass"));
    assert!(connect.auth_token.is_none(), "one kind of credentials only");
}

#[test]
fn token_from_options() {
    let options = options("127.0.0.1:4222").with_auth(Auth::Token(Secret::new("tok-from-options")));
    let connect = connect_with(options, info_with(|i| i.auth_required = true));
    assert_eq!(connect.auth_token.as_ref().map(Secret::expose), Some("tok-from-options"));
    assert!(connect.user.is_none() && connect.pass.is_none());
}

#[test]
fn token_from_the_url() {
    let connect =
        connect_with(options("nats://tok-from-url@127.0.0.1:4222"), info_with(|i| i.auth_required = true));
    assert_eq!(connect.auth_token.as_ref().map(Secret::expose), Some("tok-from-url"));
    assert!(connect.user.is_none() && connect.pass.is_none());
}

#[test]
fn nkey_signs_the_nonce_verifiably() {
    let user = nkeys::KeyPair::new_user();
    let options = options("127.0.0.1:4222").with_auth(Auth::NKey(Secret::new(user.seed().unwrap())));
    let connect = connect_with(
        options,
        info_with(|i| {
            i.auth_required = true;
            i.nonce = Some(NONCE.into());
        }),
    );
    let nkey = connect.nkey.as_deref().expect("CONNECT carries the public nkey");
    assert_eq!(nkey, user.public_key());
    assert!(nkey.starts_with('U'), "a user key: {nkey}");
    let sig = connect.sig.as_ref().expect("CONNECT carries the signature");
    assert!(verify_sig(nkey, NONCE, sig), "the signature of the nonce verifies");
    assert!(!verify_sig(nkey, "another nonce", sig), "and only for that nonce");
    let other = nkeys::KeyPair::new_user();
    assert!(!verify_sig(&other.public_key(), NONCE, sig), "and only for that key");
    assert!(connect.jwt.is_none() && connect.user.is_none() && connect.auth_token.is_none());
}

#[test]
fn nkey_without_a_nonce_fails_the_attempt() {
    let user = nkeys::KeyPair::new_user();
    let options = options("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
        .with_auth(Auth::NKey(Secret::new(user.seed().unwrap())));
    let mut h = Harness::new(options);
    let first = h.expect_connect();
    h.accept(first);
    h.send(&[harness::info_op(info_with(|i| i.auth_required = true))]);
    assert!(h.client_ops().is_empty(), "no CONNECT without a signature");
    assert_eq!(h.conn.last_error().cloned(), Some(ConnectionError::Auth(AuthError::MissingNonce)));
    assert!(h.conn.last_error().unwrap().is_auth_error());
    match h.actions().as_slice() {
        [Action::CloseTransport(_), Action::Connect(_, next)] => assert_eq!(next.port(), 4223),
        other => panic!("{other:?}"),
    }
}

#[test]
fn jwt_and_seed_sign_the_nonce() {
    let user = nkeys::KeyPair::new_user();
    let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIn0.c2ln";
    let options = options("127.0.0.1:4222")
        .with_auth(Auth::Jwt { jwt: Secret::new(jwt), seed: Secret::new(user.seed().unwrap()) });
    let connect = connect_with(
        options,
        info_with(|i| {
            i.auth_required = true;
            i.nonce = Some(NONCE.into());
        }),
    );
    assert_eq!(connect.jwt.as_ref().map(Secret::expose), Some(jwt));
    // The server takes the user's public key from the JWT's subject; here we know it.
    assert!(verify_sig(&user.public_key(), NONCE, connect.sig.as_ref().expect("sig")));
}

#[test]
fn creds_file_text_authenticates() {
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJuYW1lIjoiY3JlZHMifQ.c2lnbmF0dXJl";
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    );
    let auth = Auth::from_creds(&creds).expect("a valid creds file");
    let options = options("127.0.0.1:4222").with_auth(auth);
    let connect = connect_with(
        options,
        info_with(|i| {
            i.auth_required = true;
            i.nonce = Some(NONCE.into());
        }),
    );
    assert_eq!(connect.jwt.as_ref().map(Secret::expose), Some(jwt));
    assert!(verify_sig(&user.public_key(), NONCE, connect.sig.as_ref().expect("sig")));
}

#[test]
fn debug_output_never_shows_secrets() {
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let kinds = [
        Auth::UserPassword { user: "alice".into(), password: Secret::new("pw-SECRET-1") },
        Auth::Token(Secret::new("tok-SECRET-2")),
        Auth::NKey(Secret::new(seed.clone())),
        Auth::Jwt { jwt: Secret::new("jwt-SECRET-3"), seed: Secret::new(seed.clone()) },
    ];
    let secrets = ["SECRET", &seed[..], "urlpass", "urltoken"];
    for auth in kinds {
        for url in ["nats://bob:urlpass@127.0.0.1:4222", "nats://urltoken@127.0.0.1:4222", "127.0.0.1:4222"] {
            let options = options(url).with_auth(auth.clone());
            let debug = format!("{options:?}");
            for secret in secrets {
                assert!(!debug.contains(secret), "Options Debug shows {secret}: {debug}");
            }
            let mut h = Harness::new(options);
            let connect = h.handshake(info_with(|i| i.nonce = Some(NONCE.into())));
            assert_eq!(h.conn.state(), State::Connected);
            let debug = format!("{connect:?}");
            for secret in secrets {
                assert!(!debug.contains(secret), "ConnectInfo Debug shows {secret}: {debug}");
            }
            if let Some(sig) = &connect.sig {
                assert!(!debug.contains(sig.expose()), "ConnectInfo Debug shows the signature: {debug}");
            }
        }
    }
}

#[test]
fn debug_of_the_connection_never_shows_secrets() {
    // The CONNECT line, credentials included, sits in the outbound buffer until written.
    let options =
        options("nats://bob:pass-SECRET@127.0.0.1:4222").with_auth(Auth::Token(Secret::new("tok-SECRET")));
    let mut h = Harness::new(options);
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    assert!(!h.conn.outbound().is_empty(), "CONNECT not written yet");
    let debug = format!("{:?}", h.conn);
    assert!(!debug.contains("SECRET"), "Connection Debug shows a secret: {debug}");
}

#[test]
fn authorization_violation_fails_the_attempt_and_the_next_server_is_tried() {
    let options = options("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
        .with_auth(Auth::UserPassword { user: "alice".into(), password: Secret::new("wrong") });
    let mut h = Harness::new(options);
    let first = h.expect_connect();
    assert_eq!(first.port(), 4222);
    h.accept(first);
    h.send(&[harness::info_op(info_with(|i| i.auth_required = true))]);
    assert_eq!(h.client_ops().len(), 2, "CONNECT + PING");
    h.send(&[err("Authorization Violation")]);

    let error = h.conn.last_error().expect("the attempt failed").clone();
    let ConnectionError::Server(server_error) = &error else { panic!("{error:?}") };
    assert_eq!(server_error.kind(), &ServerErrorKind::AuthorizationViolation);
    assert!(error.is_auth_error());
    assert!(h.events().is_empty(), "a failed attempt is not a Connected/Disconnected: {:?}", h.events());
    match h.actions().as_slice() {
        [Action::CloseTransport(_), Action::Connect(_, next)] => assert_eq!(next.port(), 4223),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.conn.state(), State::Connecting);

    // The second server accepts.
    h.accept(nats_proto::ServerAddr::new("127.0.0.1", 4223, false));
    h.send(&[harness::info_op(harness::info())]);
    assert_eq!(h.client_ops().len(), 2);
    h.send(&[nats_proto::ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Connected { server }] if server.port() == 4223));
}

#[test]
fn authorization_violation_with_one_server_closes_with_no_servers() {
    let mut h = Harness::new(options("nats://alice:wrong@127.0.0.1:4222"));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(info_with(|i| i.auth_required = true))]);
    h.client_ops();
    h.send(&[err("Authorization Violation")]);
    assert_eq!(h.events(), [Event::Closed { error: Some(ConnectionError::NoServers) }]);
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert_eq!(h.conn.state(), State::Closed);
    let cause = h.conn.last_error().expect("the cause is kept");
    assert!(cause.is_auth_error(), "{cause:?}");
    assert_eq!(h.conn.poll_timeout(), None, "nothing more to do");
}

#[test]
fn authorization_violation_is_retried_with_retry_on_initial_connect() {
    let options = options("nats://alice:wrong@127.0.0.1:4222").with_retry_on_initial_connect(true);
    let mut h = Harness::new(options);
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    h.client_ops();
    h.send(&[err("authorization violation")]);
    assert!(h.conn.last_error().unwrap().is_auth_error(), "matched case-insensitively");
    assert_eq!(h.actions(), [Action::CloseTransport(h.transport())]);
    assert!(h.events().is_empty());
    let (again, waited) = h.advance_to_connect();
    assert_eq!(again.port(), 4222);
    assert!(waited >= Duration::from_secs(2), "reconnect_wait before the same server: {waited:?}");
}

#[test]
fn jwt_with_a_signing_function_signs_the_nonce_without_the_seed() {
    let user = nkeys::KeyPair::new_user();
    let public = user.public_key();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let log = std::sync::Arc::clone(&seen);
    let signer = Signer::new(move |nonce: &[u8]| {
        log.lock().unwrap().push(nonce.to_vec());
        user.sign(nonce).map_err(|e| e.to_string())
    });
    let mut options = options("127.0.0.1:4222");
    options.auth = Auth::JwtSigner { jwt: Secret::new("jwt-A"), signer };
    let connect = connect_with(
        options,
        info_with(|i| {
            i.auth_required = true;
            i.nonce = Some(NONCE.into());
        }),
    );
    assert_eq!(connect.jwt.as_ref().map(Secret::expose), Some("jwt-A"));
    assert!(verify_sig(&public, NONCE, connect.sig.as_ref().expect("sig")));
    assert_eq!(*seen.lock().unwrap(), [NONCE.as_bytes().to_vec()], "called once, with the nonce's bytes");
}

#[test]
fn a_failing_signing_function_fails_the_attempt_with_a_typed_error() {
    let mut options = options("nats://127.0.0.1:4222,nats://127.0.0.1:4223");
    options.auth = Auth::JwtSigner {
        jwt: Secret::new("jwt"),
        signer: Signer::new(|_: &[u8]| Err::<Vec<u8>, _>("the HSM is offline")),
    };
    let mut h = Harness::new(options);
    let first = h.expect_connect();
    h.accept(first);
    h.send(&[harness::info_op(info_with(|i| i.nonce = Some(NONCE.into())))]);
    assert!(h.client_ops().is_empty(), "no CONNECT");
    assert_eq!(
        h.conn.last_error().cloned(),
        Some(ConnectionError::Auth(AuthError::Signing("the HSM is offline".into())))
    );
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(_), Action::Connect(_, next)] if next.port() == 4223)
    );
}

/// Takes the `Authenticate` action: the transport and nonce it names.
fn expect_authenticate(h: &mut Harness) -> (nats_proto::TransportId, Option<String>) {
    match h.actions().as_slice() {
        [Action::Authenticate { transport, nonce }] => (*transport, nonce.clone()),
        other => panic!("expected Authenticate, got {other:?}"),
    }
}

fn callback_options(urls: &str) -> Options {
    let mut options = options(urls);
    options.auth = Auth::Callback;
    options
}

#[test]
fn the_callback_kind_pauses_after_info_until_the_caller_answers() {
    let mut h = Harness::new(callback_options("127.0.0.1:4222"));
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(info_with(|i| i.nonce = Some(NONCE.into())))]);
    let (transport, nonce) = expect_authenticate(&mut h);
    assert_eq!(transport, h.transport());
    assert_eq!(nonce.as_deref(), Some(NONCE));
    assert!(h.client_ops().is_empty(), "CONNECT waits for the credentials");
    // A PING from the server meanwhile gets no PONG: nothing may precede CONNECT.
    h.send(&[nats_proto::ServerOp::Ping]);
    assert!(h.client_ops().is_empty());
    assert_eq!(h.conn.state(), State::Connecting);
    let user = nkeys::KeyPair::new_user();
    let sig = user.sign(NONCE.as_bytes()).unwrap();
    h.conn.handle_credentials(
        h.now,
        transport,
        Ok(Credentials::new().with_jwt("jwt-fresh").with_nkey(user.public_key()).with_signature(&sig)),
    );
    let connect = match h.client_ops().as_slice() {
        [nats_proto::ClientOp::Connect(connect), nats_proto::ClientOp::Ping] => (**connect).clone(),
        other => panic!("expected CONNECT + PING, got {other:?}"),
    };
    assert_eq!(connect.jwt.as_ref().map(Secret::expose), Some("jwt-fresh"));
    assert_eq!(connect.nkey.as_deref(), Some(&*user.public_key()));
    assert!(
        verify_sig(&user.public_key(), NONCE, connect.sig.as_ref().unwrap()),
        "encoded as the server expects"
    );
    h.send(&[nats_proto::ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
    // A second answer, not asked for, changes nothing.
    h.conn.handle_credentials(h.now, transport, Ok(Credentials::new().with_token("late")));
    assert!(h.client_ops().is_empty() && h.actions().is_empty());
}

#[test]
fn the_callback_is_asked_again_for_each_attempt_and_stale_answers_are_ignored() {
    let mut h = Harness::new(callback_options("127.0.0.1:4222"));
    let first = h.expect_connect();
    h.accept(first);
    h.send(&[harness::info_op(harness::info())]);
    let (old, nonce) = expect_authenticate(&mut h);
    assert_eq!(nonce, None, "no nonce from this server");
    h.conn.handle_credentials(h.now, old, Ok(Credentials::new().with_token("token-1")));
    let ops = h.client_ops();
    let [nats_proto::ClientOp::Connect(connect), nats_proto::ClientOp::Ping] = ops.as_slice() else {
        panic!("{ops:?}")
    };
    assert_eq!(connect.auth_token.as_ref().map(Secret::expose), Some("token-1"));
    h.send(&[nats_proto::ServerOp::Pong]);
    h.events();

    // The connection is lost; the next attempt asks again.
    h.drop_transport();
    h.events();
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    let (current, _) = expect_authenticate(&mut h);
    assert_ne!(current, old);
    // An answer for the old transport (a slow callback from before) is ignored.
    h.conn.handle_credentials(h.now, old, Ok(Credentials::new().with_token("token-1")));
    assert!(h.client_ops().is_empty(), "no CONNECT from a stale answer");
    h.conn.handle_credentials(h.now, current, Ok(Credentials::new().with_user_and_password("u", "pw-2")));
    let ops = h.client_ops();
    let [nats_proto::ClientOp::Connect(connect), nats_proto::ClientOp::Ping] = ops.as_slice() else {
        panic!("{ops:?}")
    };
    assert_eq!(connect.user.as_deref(), Some("u"));
    assert_eq!(connect.pass.as_ref().map(Secret::expose), Some("pw-2"));
    assert!(connect.auth_token.is_none());
    h.send(&[nats_proto::ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Reconnected { .. }]));
}

#[test]
fn a_callback_error_fails_the_attempt_and_the_reconnect_loop_goes_on() {
    let mut options = callback_options("127.0.0.1:4222");
    options.retry_on_initial_connect = true;
    let mut h = Harness::new(options);
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    let (transport, _) = expect_authenticate(&mut h);
    h.conn.handle_credentials(h.now, transport, Err(AuthError::Callback("vault unreachable".into())));
    assert_eq!(
        h.conn.last_error().cloned(),
        Some(ConnectionError::Auth(AuthError::Callback("vault unreachable".into())))
    );
    assert_eq!(h.actions(), [Action::CloseTransport(transport)]);
    assert!(h.client_ops().is_empty());
    // The next attempt comes after the reconnect wait and asks again.
    let (server, waited) = h.advance_to_connect();
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    let (transport, _) = expect_authenticate(&mut h);
    h.conn.handle_credentials(h.now, transport, Ok(Credentials::new().with_token("t")));
    h.client_ops();
    h.send(&[nats_proto::ServerOp::Pong]);
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
}

#[test]
fn a_callback_that_never_answers_fails_the_attempt_at_the_connect_timeout() {
    let mut options = callback_options("127.0.0.1:4222,127.0.0.1:4223");
    options.connect_timeout = Duration::from_secs(2);
    let mut h = Harness::new(options);
    let server = h.expect_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    let (transport, _) = expect_authenticate(&mut h);
    assert_eq!(h.advance(), Duration::from_secs(2));
    assert_eq!(h.conn.last_error().cloned(), Some(ConnectionError::Timeout));
    assert!(
        matches!(h.actions().as_slice(), [Action::CloseTransport(t), Action::Connect(..)] if *t == transport)
    );
    h.conn.handle_credentials(h.now, transport, Ok(Credentials::new().with_token("too late")));
    assert!(h.actions().is_empty(), "the late answer is ignored");
}

#[test]
fn url_credentials_take_precedence_over_the_callback() {
    let mut h = Harness::new(callback_options("nats://tok-url@127.0.0.1:4222"));
    let connect = h.handshake(harness::info());
    assert_eq!(connect.auth_token.as_ref().map(Secret::expose), Some("tok-url"));
    assert!(matches!(h.events().as_slice(), [Event::Connected { .. }]));
}

/// Connects, then loses the connection and answers every reconnect attempt with `error`
/// until the connection closes; returns how many attempts were refused.
fn refuse_reconnects(h: &mut Harness, error: &str, max: usize) -> usize {
    h.connect(harness::info());
    h.drop_transport();
    h.events();
    for refused in 0..max {
        if h.conn.is_closed() {
            return refused;
        }
        let (server, _) = h.advance_to_connect();
        h.accept(server);
        h.send(&[harness::info_op(harness::info())]);
        h.client_ops();
        h.send(&[err(error)]);
        h.actions(); // CloseTransport
    }
    max
}

#[test]
fn the_same_auth_error_twice_in_a_row_closes_the_connection() {
    let mut h = Harness::new(options("nats://alice:pw@127.0.0.1:4222"));
    assert_eq!(refuse_reconnects(&mut h, "Authorization Violation", 10), 2);
    let events = h.events();
    let Some(Event::Closed { error: Some(ConnectionError::RepeatedAuthError(error)) }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind(), &ServerErrorKind::AuthorizationViolation);
    assert!(h.conn.last_error().unwrap().is_auth_error());
    assert_eq!(h.conn.state(), State::Closed);
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn expired_credentials_while_connected_then_refused_again_close_the_connection() {
    let mut h = Harness::new(options("nats://alice:pw@127.0.0.1:4222"));
    h.connect(harness::info());
    // The server ends the session: the first refusal, while connected.
    h.send(&[err("User Authentication Expired")]);
    assert!(matches!(h.events().as_slice(), [Event::Disconnected { .. }]));
    assert!(matches!(h.actions().as_slice(), [Action::CloseTransport(_)]));
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    h.client_ops();
    h.send(&[err("User Authentication Expired")]);
    assert!(matches!(
        h.events().as_slice(),
        [Event::Closed { error: Some(ConnectionError::RepeatedAuthError(_)) }]
    ));
}

#[test]
fn different_or_interrupted_auth_errors_do_not_close() {
    let mut h = Harness::new(options("nats://alice:pw@127.0.0.1:4222"));
    h.connect(harness::info());
    h.drop_transport();
    h.events();
    for text in ["Authorization Violation", "User Authentication Expired", "Authorization Violation"] {
        let (server, _) = h.advance_to_connect();
        h.accept(server);
        h.send(&[harness::info_op(harness::info())]);
        h.client_ops();
        h.send(&[err(text)]);
        assert!(!h.conn.is_closed(), "after {text}");
        h.actions();
    }
    // A successful connection resets the history: one more refusal is the first again.
    h.reconnect(harness::info());
    h.events();
    h.drop_transport();
    h.actions();
    let (server, _) = h.advance_to_connect();
    h.accept(server);
    h.send(&[harness::info_op(harness::info())]);
    h.client_ops();
    h.send(&[err("Authorization Violation")]);
    assert!(!h.conn.is_closed());
    // Authentication Timeout says the client was slow, not that its credentials are bad.
    let mut h = Harness::new(options("nats://alice:pw@127.0.0.1:4222"));
    assert_eq!(refuse_reconnects(&mut h, "Authentication Timeout", 5), 5);
    assert!(!h.conn.is_closed());
}

#[test]
fn retry_on_repeated_auth_errors_keeps_trying() {
    let mut options = options("nats://alice:pw@127.0.0.1:4222");
    options.retry_on_repeated_auth_errors = true;
    let mut h = Harness::new(options);
    assert_eq!(refuse_reconnects(&mut h, "Authorization Violation", 6), 6);
    assert!(!h.conn.is_closed());
    assert_eq!(h.conn.state(), State::Reconnecting);
}
