//! `serve` on real sockets: plain HTTP with a graceful stop, HTTPS with a certificate made here,
//! unusable TLS files, and the limits against clients that hold connections open.

use std::path::PathBuf;
use std::time::Instant;

use idmsync_http::{serve, HttpError, ServeOptions, TlsFiles};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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
    let options = ServeOptions::default();
    let server = tokio::spawn(serve(listener, router, tls, options, async move {
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
    assert_eq!(
        reply.text().await.expect("body"),
        r#"{"size":0,"total":0,"start":0,"data":[]}"#
    );

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
            ServeOptions::default(),
            std::future::pending(),
        )
        .await;
        let error = result.expect_err("unusable TLS files").to_string();
        assert!(error.contains(expected), "{error}");
    }
}

/// Starts `serve` and the app router over a default fake on a free loopback port, with
/// `options`; the server runs until the test ends.
async fn start_with(options: ServeOptions) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = idmsync_http::app_router(state(&Arc::new(Fake::default())));
    tokio::spawn(serve(
        listener,
        router,
        None,
        options,
        std::future::pending(),
    ));
    addr
}

/// `GET /health/live` on a connection of its own, as a load balancer's probe.
async fn live(addr: std::net::SocketAddr) -> reqwest::StatusCode {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
        .get(format!("http://{addr}/health/live"))
        .send()
        .await
        .expect("probe")
        .status()
}

/// A connection that sent `bytes` and nothing more.
async fn holding(addr: std::net::SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("send");
    stream
}

/// How long the server took to close `stream` (reading whatever it sent first), or `None` if
/// it was still open after `within`.
async fn closed_after(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut sink = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut sink)).await {
        Ok(_) => Some(start.elapsed()),
        Err(_) => None,
    }
}

const HALF_SENT: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";

/// The finding: about 19,600 half-sent requests took every file descriptor and the service
/// stopped answering. Connections that send half a request, nothing at all, or nothing more
/// after an answer are closed once the header timeout has passed, and the server answers
/// throughout.
#[tokio::test]
async fn connections_that_do_not_send_a_request_in_time_are_closed() {
    let timeout = Duration::from_millis(400);
    let addr = start_with(ServeOptions {
        header_timeout: timeout,
        ..ServeOptions::default()
    })
    .await;
    let mut half_sent = Vec::new();
    for _ in 0..20 {
        half_sent.push(holding(addr, HALF_SENT).await);
    }
    assert_eq!(
        closed_after(&mut half_sent[0], timeout / 4).await,
        None,
        "closed before the timeout"
    );
    let mut silent = holding(addr, b"").await;
    let mut kept_alive = holding(
        addr,
        b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let mut answer = [0; 12];
    kept_alive.read_exact(&mut answer).await.expect("answer");
    assert_eq!(&answer, b"HTTP/1.1 200");

    assert_eq!(live(addr).await, reqwest::StatusCode::OK);
    for stream in half_sent.iter_mut().chain([&mut silent, &mut kept_alive]) {
        let closed = closed_after(stream, Duration::from_secs(10))
            .await
            .expect("closed by the server");
        assert!(closed <= Duration::from_secs(5), "closed after {closed:?}");
    }
    assert_eq!(live(addr).await, reqwest::StatusCode::OK);
}

/// Past `max_connections` the server accepts nothing more: a further client waits (in the
/// kernel's backlog) and is served as soon as a held connection goes, here by the header
/// timeout.
#[tokio::test]
async fn connections_over_the_cap_wait_for_a_place() {
    let timeout = Duration::from_millis(800);
    let addr = start_with(ServeOptions {
        max_connections: 4,
        header_timeout: timeout,
    })
    .await;
    let held = [
        holding(addr, HALF_SENT).await,
        holding(addr, HALF_SENT).await,
        holding(addr, HALF_SENT).await,
        holding(addr, HALF_SENT).await,
    ];
    let start = Instant::now();
    let waiting = tokio::spawn(live(addr));
    tokio::time::sleep(timeout / 2).await;
    assert!(!waiting.is_finished(), "a fifth connection was served");
    assert_eq!(waiting.await.expect("probe"), reqwest::StatusCode::OK);
    let waited = start.elapsed();
    assert!(
        waited >= timeout / 2,
        "served after {waited:?}, before a place was free"
    );
    drop(held);
    for _ in 0..3 {
        assert_eq!(live(addr).await, reqwest::StatusCode::OK);
    }
}

/// A client that closes its held connection gives its place back at once.
#[tokio::test]
async fn a_closed_connection_gives_its_place_back() {
    let addr = start_with(ServeOptions {
        max_connections: 1,
        header_timeout: Duration::from_secs(60),
    })
    .await;
    let held = holding(addr, HALF_SENT).await;
    let waiting = tokio::spawn(live(addr));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a second connection was served");
    drop(held);
    let served = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the place is free")
        .expect("probe");
    assert_eq!(served, reqwest::StatusCode::OK);
}
