//! The crate docs' axum server, served through `TimeoutListener`, against
//! real sockets: it resumes a client, and closes a client that sends no
//! request or stops reading. Every wait is bounded.

use std::time::{Duration, Instant};

use axum::{extract::State, http::HeaderMap, routing::get, Router};
use sse_proto::adapter::body::SseBody;
use sse_proto::server::{last_event_id, Hub, Subscription, TimeoutListener};
use sse_proto::ServerEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;

async fn events(State(hub): State<Hub>, headers: HeaderMap) -> SseBody<Subscription> {
    SseBody::new(hub.subscribe("news", last_event_id(&headers)))
}

const SLACK: Duration = Duration::from_secs(10);

async fn server() -> (std::net::SocketAddr, Hub) {
    let hub = Hub::new();
    let app = Router::new()
        .route("/events", get(events))
        .with_state(hub.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let listener = TimeoutListener::new(listener)
        .head_timeout(Duration::from_secs(1))
        .write_timeout(Duration::from_secs(1));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hub)
}

/// Reads until `want` is in what came, or the connection ends; bounded.
async fn read_until(tcp: &mut TcpStream, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(SLACK, async {
        while !String::from_utf8_lossy(&got).contains(want) {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_example_resumes_a_client_and_closes_silent_and_non_reading_ones() {
    let (addr, hub) = server().await;
    let first = hub
        .publish("news", ServerEvent::new().data("one"))
        .expect("valid");
    hub.publish("news", ServerEvent::new().data("two"))
        .expect("valid");

    // A client that saw "one" gets "two", with the SSE headers.
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /events HTTP/1.1\r\nhost: x\r\nlast-event-id: {first}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("request");
    let got = read_until(&mut tcp, "data: two\n\n").await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.contains("content-type: text/event-stream"), "{got}");
    assert!(
        got.contains("data: two\n\n") && !got.contains("data: one"),
        "{got}"
    );

    // A client that sends nothing is closed at the head timeout.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(SLACK, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the silent connection was closed: {read:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(1));

    // A client that stops reading is dropped at the write timeout.
    let stuck = common::non_reader(addr).await;
    common::until(SLACK, "the stuck client subscribed", || {
        hub.subscribers("news") == 2
    })
    .await;
    for _ in 0..64 {
        hub.publish("news", ServerEvent::new().data("x".repeat(64 * 1024)))
            .expect("valid");
    }
    drop(tcp);
    common::until(
        Duration::from_secs(1) + SLACK,
        "the non-reader dropped",
        || hub.subscribers("news") == 0,
    )
    .await;
    drop(stuck);
}
