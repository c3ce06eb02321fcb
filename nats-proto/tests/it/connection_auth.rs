//! Handshake scenarios for every kind of credentials, verified as a server would verify
//! them, plus rejected credentials and secrets kept out of `Debug` output.

use crate::harness;

use std::time::Duration;

use harness::{err, info_with, options, Harness};
use nats_proto::{
    Action, Auth, AuthError, ConnectInfo, ConnectionError, Event, Options, Secret, ServerErrorKind, State,
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
    let options = Options {
        auth: Auth::UserPassword { user: "alice".into(), password: Secret::new("opt-pass-1") },
        ..options("nats://127.0.0.1:4222")
    };
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
    let options = Options {
        auth: Auth::Token(Secret::new("option-token")),
        ..options("nats://carol:url-pass@127.0.0.1:4222")
    };
    let connect = connect_with(options, info_with(|i| i.auth_required = true));
    assert_eq!(connect.user.as_deref(), Some("carol"));
    assert_eq!(connect.pass.as_ref().map(Secret::expose), Some("url-pass"));
    assert!(connect.auth_token.is_none(), "one kind of credentials only");
}

#[test]
fn token_from_options() {
    let options = Options { auth: Auth::Token(Secret::new("tok-from-options")), ..options("127.0.0.1:4222") };
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
    let options =
        Options { auth: Auth::NKey(Secret::new(user.seed().unwrap())), ..options("127.0.0.1:4222") };
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
    let options = Options {
        auth: Auth::NKey(Secret::new(user.seed().unwrap())),
        ..options("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    };
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
    let options = Options {
        auth: Auth::Jwt { jwt: Secret::new(jwt), seed: Secret::new(user.seed().unwrap()) },
        ..options("127.0.0.1:4222")
    };
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
    let options = Options { auth, ..options("127.0.0.1:4222") };
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
            let options = Options { auth: auth.clone(), ..options(url) };
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
    let options = Options {
        auth: Auth::Token(Secret::new("tok-SECRET")),
        ..options("nats://bob:pass-SECRET@127.0.0.1:4222")
    };
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
    let options = Options {
        auth: Auth::UserPassword { user: "alice".into(), password: Secret::new("wrong") },
        ..options("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    };
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
    let options = Options { retry_on_initial_connect: true, ..options("nats://alice:wrong@127.0.0.1:4222") };
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
