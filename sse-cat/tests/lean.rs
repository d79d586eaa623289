//! `server::serve`, the lean fan-out server, against real sockets and this
//! crate's client: resumption, refusals, and clients that send nothing,
//! stop reading or go. Every wait is bounded.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sse_proto::client::Client;
use sse_proto::server::{serve, Hub, ServeConfig};
use sse_proto::session::Config;
use sse_proto::ServerEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;

const SLACK: Duration = Duration::from_secs(10);

async fn server(backlog: bool) -> (std::net::SocketAddr, Hub) {
    let hub = Hub::new();
    let config = ServeConfig::new(|req| match req.uri().path() {
        "/events" => Some("news".into()),
        _ => None,
    })
    .backlog(backlog)
    .head_timeout(Duration::from_secs(1))
    .write_timeout(Duration::from_secs(1));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(serve(listener, hub.clone(), config));
    (addr, hub)
}

/// What the server sends in reply to `request`, up to its close.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let _ = tcp.write_all(request).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(SLACK, tcp.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

async fn until(what: &str, done: impl FnMut() -> bool) {
    common::until(SLACK, what, done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_from_its_last_event_id_and_gets_the_live_events() {
    let (addr, hub) = server(false).await;
    let ids: Vec<String> = (1..=3)
        .map(|n| {
            hub.publish("news", ServerEvent::new().data(format!("e{n}")))
                .expect("valid")
        })
        .collect();
    let connector = sse_proto::client::hyper::HyperConnector::new(&format!("http://{addr}/events"))
        .expect("URL");
    let client = Client::new(connector, Config::default()).with_last_event_id(ids[0].clone());
    let mut events = client.events();
    let mut got = Vec::new();
    for _ in 0..2 {
        let e = tokio::time::timeout(SLACK, events.next())
            .await
            .expect("bounded");
        let e = e.expect("an event").expect("no error");
        got.push((e.data().into_owned(), e.last_event_id().into_owned()));
    }
    assert_eq!(
        got,
        [("e2".into(), ids[1].clone()), ("e3".into(), ids[2].clone())]
    );
    let live = hub
        .publish("news", ServerEvent::new().data("live"))
        .expect("valid");
    let e = tokio::time::timeout(SLACK, events.next())
        .await
        .expect("bounded");
    let e = e.expect("an event").expect("no error");
    assert_eq!(
        (e.data().into_owned(), e.last_event_id().into_owned()),
        ("live".into(), live)
    );
}

#[tokio::test]
async fn the_response_head_and_the_refusals() {
    let (addr, hub) = server(true).await;
    let id = hub
        .publish("news", ServerEvent::new().data("x"))
        .expect("valid");
    // The head, then (with the backlog on) the priming block and the log.
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(SLACK, async {
        while !String::from_utf8_lossy(&got).contains("data: x\n\n") {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let got = String::from_utf8_lossy(&got);
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
                x-accel-buffering: no\r\nconnection: close\r\n\r\n";
    let primed = format!("{}-0", id.rsplit_once('-').expect("a hub id").0);
    assert_eq!(got, format!("{head}id: {primed}\n\nid: {id}\ndata: x\n\n"));
    for (request, status) in [
        (&b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n"[..], "404"),
        (
            b"POST /events HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
            "405",
        ),
        (b"\x00\x01 not http\r\n\r\n", "400"),
    ] {
        let got = exchange(addr, request).await;
        assert!(
            got.starts_with(&format!("HTTP/1.1 {status}")),
            "{status}: {got}"
        );
    }
    let huge = format!(
        "GET /events HTTP/1.1\r\nlast-event-id: {}\r\n\r\n",
        "7".repeat(1 << 20)
    );
    let got = exchange(addr, huge.as_bytes()).await;
    assert!(
        got.starts_with("HTTP/1.1 431") || got.is_empty(),
        "{got:.80}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_stuck_clients_and_gone_clients_are_dropped() {
    let (addr, hub) = server(false).await;
    // Sends nothing: closed at the head timeout.
    let start = Instant::now();
    let got = exchange(addr, b"").await;
    assert!(got.is_empty(), "{got}");
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(1) && took < SLACK, "{took:?}");

    // Goes: its subscription is dropped at once, with nothing published.
    let mut gone = TcpStream::connect(addr).await.expect("connect");
    gone.write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request");
    until("subscribed", || hub.subscribers("news") == 1).await;
    drop(gone);
    until("dropped when it went", || hub.subscribers("news") == 0).await;

    // Stops reading: dropped at the write timeout.
    let stuck = common::non_reader(addr).await;
    until("subscribed", || hub.subscribers("news") == 1).await;
    for _ in 0..64 {
        hub.publish("news", ServerEvent::new().data("x".repeat(64 * 1024)))
            .expect("valid");
    }
    until("dropped at the write timeout", || {
        hub.subscribers("news") == 0
    })
    .await;
    drop(stuck);
}
