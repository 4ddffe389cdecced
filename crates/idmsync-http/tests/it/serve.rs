//! `serve` on real sockets: plain HTTP with a graceful stop, HTTPS with a certificate made here,
//! and unusable TLS files.

use std::path::PathBuf;

use idmsync_http::{serve, HttpError, TlsFiles};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::*;

/// How long a stopped server may take to return.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `serve` with the app router over `fake` on a free loopback port; the sender stops it.
async fn start(
    fake: Fake,
    tls: Option<TlsFiles>,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<Result<(), HttpError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = idmsync_http::app_router(state(&Arc::new(fake)));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router, tls, async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

async fn stopped(server: JoinHandle<Result<(), HttpError>>) {
    tokio::time::timeout(STOP_TIMEOUT, server)
        .await
        .expect("serve returns after the shutdown signal")
        .expect("serve task")
        .expect("serve result");
}

#[tokio::test]
async fn http_answers_and_a_stop_lets_the_request_in_flight_finish() {
    let (addr, stop, server) = start(
        Fake {
            ready_delay: Some(Duration::from_millis(500)),
            ..Fake::default()
        },
        None,
    )
    .await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");

    let live = client
        .get(format!("http://{addr}/health/live"))
        .send()
        .await
        .expect("request");
    assert_eq!(live.status(), reqwest::StatusCode::OK);
    assert_eq!(live.text().await.expect("body"), r#"{"status":"up"}"#);

    let slow = tokio::spawn(client.get(format!("http://{addr}/health/ready")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).expect("server listens for the stop");
    let slow = slow
        .await
        .expect("task")
        .expect("in-flight request completes");
    assert_eq!(slow.status(), reqwest::StatusCode::OK);
    drop(client);

    stopped(server).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn https_serves_with_the_given_certificate() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).expect("write key");

    let (addr, stop, server) = start(Fake::default(), Some(files)).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("cert"),
        )
        .resolve("localhost", addr)
        .build()
        .expect("client");
    let reply = client
        .get(format!(
            "https://localhost:{}/api/enterprise/users",
            addr.port()
        ))
        .header("authorization", basic(ADMIN, CANARY))
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(reply.status(), reqwest::StatusCode::OK);
    assert_eq!(reply.text().await.expect("body"), "[]");

    let plain = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("http://{addr}/health/live"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP on the HTTPS port must fail");

    drop(client);
    stop.send(()).expect("server listens for the stop");
    stopped(server).await;
}

#[tokio::test]
async fn unusable_tls_files_fail_before_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let other = rcgen::generate_simple_self_signed(vec!["x".into()]).expect("certificate");
    let cert = dir.path().join("cert.pem");
    let wrong_key = dir.path().join("wrong-key.pem");
    std::fs::write(&cert, other.cert.pem()).expect("write");
    let stranger = rcgen::KeyPair::generate().expect("key");
    std::fs::write(&wrong_key, stranger.serialize_pem()).expect("write");

    let cases: [(PathBuf, PathBuf, &str); 4] = [
        (missing.clone(), wrong_key.clone(), "missing.pem"),
        (empty.clone(), wrong_key.clone(), "empty.pem"),
        (cert.clone(), empty.clone(), "empty.pem"),
        (cert.clone(), wrong_key.clone(), "invalid TLS configuration"),
    ];
    for (cert, key, expected) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let router = idmsync_http::api_router(state(&Arc::new(Fake::default())));
        let result = serve(
            listener,
            router,
            Some(TlsFiles { cert, key }),
            std::future::pending(),
        )
        .await;
        let error = result.expect_err("unusable TLS files").to_string();
        assert!(error.contains(expected), "{error}");
    }
}
