//! The adapters against the real crates they plug into: tokio-util framing
//! over a duplex pipe, and a hyper server and client on 127.0.0.1. Every
//! wait is bounded.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, SinkExt, StreamExt};
use http_body_util::{BodyDataStream, BodyExt, Empty};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sse_cat::demo::{serve, ticker_parts, DemoConfig};
use sse_proto::adapter::body::{headers, response, SseBody};
use sse_proto::adapter::codec::{CodecError, SseCodec};
use sse_proto::adapter::stream::{EventStream, StreamError};
use sse_proto::client::{Client, Update};
use sse_proto::server::last_event_id;
use sse_proto::session::Config;
use sse_proto::{DecodeError, Decoder, EncodeError, Event, Frame, Line, ServerEvent};
use tokio::net::TcpListener;
use tokio_util::codec::{FramedRead, FramedWrite};

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("finished within 20 s")
}

#[tokio::test]
async fn codec_round_trips_events_writes_nothing_of_a_refused_one_and_reads_past_a_too_large_one() {
    let (writer, reader) = tokio::io::duplex(64);
    let send = async move {
        let mut sink = FramedWrite::new(writer, SseCodec::new());
        sink.send(ServerEvent::new().event("a").id("1").data("x\r\ny"))
            .await
            .expect("sent");
        // Refused: an error, and nothing of it on the wire.
        let refused = sink
            .send(ServerEvent::new().event("bad\nname").data("z"))
            .await;
        assert!(matches!(
            refused,
            Err(CodecError::Encode(EncodeError::LineBreak {
                part: Line::Event,
                at: 3
            }))
        ));
        sink.send(ServerEvent::new().data("much too long for the reader's limit"))
            .await
            .expect("sent");
        sink.send(
            ServerEvent::new()
                .retry(Duration::from_millis(250))
                .data("after"),
        )
        .await
        .expect("sent");
        // The pipe closes when the sink drops: the reader sees the end.
    };
    let decoder = Decoder::new().max_event_size(16);
    let receive = FramedRead::new(reader, SseCodec::with_decoder(decoder)).collect::<Vec<_>>();
    let ((), frames) = bounded(async { tokio::join!(send, receive) }).await;
    let frames: Vec<Result<Frame, DecodeError>> = frames
        .into_iter()
        .map(|f| f.expect("no i/o error"))
        .collect();
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert_eq!(frames[0], Ok(Frame::Event(Event::new("a", "x\ny", "1"))));
    assert!(matches!(
        frames[1],
        Err(DecodeError::TooLarge { limit: 16, .. })
    ));
    assert_eq!(frames[2], Ok(Frame::Retry(Duration::from_millis(250))));
    assert_eq!(
        frames[3],
        Ok(Frame::Event(Event::new("message", "after", "1")))
    );
}

/// Serves `make()`'s body on 127.0.0.1 and returns the URL.
async fn serve_body<B, F>(make: F) -> String
where
    F: Fn(&http::HeaderMap) -> http::Response<B> + Clone + Send + Sync + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let make = make.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let response = make(req.headers());
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    url
}

/// GETs `url` with hyper's client and returns the response.
async fn get(url: &str) -> http::Response<hyper::body::Incoming> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    bounded(client.get(url.parse().expect("URL")))
        .await
        .expect("response")
}

#[tokio::test]
async fn body_over_hyper_sends_the_sse_headers_and_all_50_events_the_stream_adapter_reads() {
    let url = serve_body(|_| {
        let events = stream::iter((1..=50).map(|n| {
            ServerEvent::new()
                .id(n.to_string())
                .event("n")
                .data(format!("{n}\n{n}"))
        }));
        response(SseBody::new(events))
    })
    .await;
    let res = get(&url).await;
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    let frames: Vec<_> =
        bounded(EventStream::new(BodyDataStream::new(res.into_body())).collect()).await;
    let expected: Vec<_> = (1..=50)
        .map(|n: u32| Frame::Event(Event::new("n", format!("{n}\n{n}"), n.to_string())))
        .collect();
    let frames: Vec<Frame> = frames.into_iter().map(|f| f.expect("no error")).collect();
    assert_eq!(frames, expected);
}

/// Serves `body` with hyper's HTTP/1 server and reads it with hyper's HTTP/1
/// client over an in-memory pipe: the same hyper code as over TCP, with no
/// socket, so that a test can run on tokio's paused clock (real I/O would
/// let the paused clock jump ahead while a read is in flight).
async fn get_over_a_pipe<B>(body: B) -> http::Response<hyper::body::Incoming>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let body = std::sync::Mutex::new(Some(body));
    let service = service_fn(move |_req: http::Request<hyper::body::Incoming>| {
        let body = body
            .lock()
            .expect("lock")
            .take()
            .expect("one request on the pipe");
        async move { Ok::<_, std::convert::Infallible>(response(body)) }
    });
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), service)
            .await;
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .expect("handshake over the pipe");
    tokio::spawn(connection);
    let request = http::Request::get("/")
        .body(Empty::<Bytes>::new())
        .expect("request");
    bounded(sender.send_request(request))
        .await
        .expect("response")
}

#[tokio::test(start_paused = true)]
async fn body_sends_one_keep_alive_per_quiet_interval_and_ends_with_its_stream() {
    // One event, 450 ms of quiet, one more event, the end; keep-alives every
    // 100 ms. On the paused clock: exactly 4, at 100, 200, 300 and 400 ms.
    let events =
        stream::once(async { ServerEvent::new().data("first") }).chain(stream::once(async {
            tokio::time::sleep(Duration::from_millis(450)).await;
            ServerEvent::new().data("second")
        }));
    let body = SseBody::with_keep_alive(events.boxed(), Some(Duration::from_millis(100)));
    let started = tokio::time::Instant::now();
    let mut body = get_over_a_pipe(body).await.into_body();
    // What the client read, by the time (ms from the request) it read it.
    let mut timeline: Vec<(u128, String)> = Vec::new();
    let mut all = Vec::new();
    while let Some(frame) = bounded(body.frame()).await {
        let Ok(data) = frame.expect("no error").into_data() else {
            continue;
        };
        all.extend_from_slice(&data);
        let at = started.elapsed().as_millis();
        let text = String::from_utf8_lossy(&data);
        match timeline.last_mut() {
            Some((t, read)) if *t == at => read.push_str(&text),
            _ => timeline.push((at, text.into_owned())),
        }
    }
    let want: Vec<(u128, String)> = [
        (0, "data: first\n\n"),
        (100, ":\n\n"),
        (200, ":\n\n"),
        (300, ":\n\n"),
        (400, ":\n\n"),
        (450, "data: second\n\n"),
    ]
    .into_iter()
    .map(|(at, text)| (at, text.to_owned()))
    .collect();
    assert_eq!(timeline, want, "what the client read, and when (ms)");
    assert_eq!(started.elapsed(), Duration::from_millis(450), "and the end");
    // And they change nothing for a client.
    let frames: Vec<_> =
        EventStream::new(stream::iter([Ok::<_, std::io::Error>(Bytes::from(all))]))
            .collect()
            .await;
    assert_eq!(frames.len(), 2, "{frames:?}");
}

#[tokio::test]
async fn body_ends_with_the_encoders_error_rather_than_send_a_different_event() {
    let url = serve_body(|_| {
        let events = stream::once(async { ServerEvent::new().data("ok") })
            .chain(stream::once(async {
                // Let the first event go out before the body fails.
                tokio::time::sleep(Duration::from_millis(100)).await;
                ServerEvent::new().id("a\0b").data("bad")
            }))
            .boxed();
        response(SseBody::with_keep_alive(events, None))
    })
    .await;
    let res = get(&url).await;
    let frames: Vec<_> =
        bounded(EventStream::new(BodyDataStream::new(res.into_body())).collect()).await;
    assert!(matches!(&frames[0], Ok(Frame::Event(e)) if e.data() == "ok"));
    assert!(
        matches!(frames[1], Err(StreamError::Transport(_))),
        "the body was cut: {frames:?}"
    );
    assert_eq!(frames.len(), 2, "nothing of the refused event: {frames:?}");
}

#[tokio::test]
async fn last_event_id_helper_trims_the_header_and_reads_an_empty_one_as_none() {
    let mut h = headers();
    assert_eq!(last_event_id(&h), None);
    h.insert("last-event-id", " 42 ".parse().expect("value"));
    assert_eq!(last_event_id(&h), Some("42"));
    h.insert("last-event-id", "".parse().expect("value"));
    assert_eq!(last_event_id(&h), None);
}

fn demo_config() -> DemoConfig {
    DemoConfig {
        events: Some(12),
        interval: Duration::from_millis(20),
        drop_after: Some(5),
        retry: Duration::from_millis(50),
        keep_alive: Some(Duration::from_millis(200)),
        replay: 100,
        ..DemoConfig::default()
    }
}

/// The ticker's event number in a hub id (`EPOCH-STREAM-N`).
fn seq(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a hub id: {id}"))
}

fn fast_client_config() -> Config {
    Config::default().min_retry(Duration::from_millis(10))
}

#[tokio::test]
async fn demo_server_resumes_a_client_after_each_drop() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    let demo = serve(listener, demo_config());
    let connector = sse_proto::client::hyper::HyperConnector::new(&url).expect("URL");
    let events: Vec<Event> = bounded(
        Client::new(connector, fast_client_config())
            .events()
            .take(12)
            .map(|e| e.expect("no error"))
            .collect(),
    )
    .await;
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event_type().into_owned(),
                e.data().into_owned(),
                seq(&e.last_event_id()),
            )
        })
        .collect();
    let expected: Vec<_> = (1..=12)
        .map(|n| {
            let (t, d) = ticker_parts(n);
            (t.to_owned(), d, n)
        })
        .collect();
    assert_eq!(got, expected);
    // Every id is the hub's, of one epoch.
    let epoch = format!("{:016x}-", demo.hub().epoch());
    assert!(events.iter().all(|e| e.last_event_id().starts_with(&epoch)));
    // Dropped after every 5 events, resumed from the last id each time.
    let ids = demo.last_event_ids();
    assert_eq!(ids[0], None);
    let resumed: Vec<u64> = ids[1..3]
        .iter()
        .map(|id| seq(id.as_deref().expect("an id")))
        .collect();
    assert_eq!(resumed, [5, 10]);
}

/// The first event a client resuming from `id` gets from the demo at `url`.
async fn first_event(url: &str, id: &str) -> Event {
    let connector = sse_proto::client::hyper::HyperConnector::new(url).expect("URL");
    let client = Client::new(connector, fast_client_config()).with_last_event_id(id.to_owned());
    bounded(
        client
            .updates()
            .filter_map(|u| async move {
                match u {
                    Update::Event(e) => Some(e),
                    _ => None,
                }
            })
            .boxed()
            .next(),
    )
    .await
    .expect("an event")
}

#[tokio::test(start_paused = true)]
async fn demo_server_says_reset_to_a_client_whose_id_is_gone_or_of_a_server_restarted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    let mut config = demo_config();
    config.replay = 3;
    let demo = serve(listener, config.clone());
    // Let the ticker finish (12 events every 20 ms, 3 kept: 10 to 12) on the
    // paused clock: the sleep ends at 500 ms only after every tick up to
    // 240 ms has run, however slow the machine. Then real time again, for
    // the client's socket.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(demo.published(), 12);
    tokio::time::resume();
    let id = |n: u64| format!("{:016x}-0-{n}", demo.hub().epoch());

    // Event 3 is gone from the log: a reset, whose id is the newest event,
    // so that the client's next resume starts there.
    let first = first_event(&url, &id(2)).await;
    assert_eq!(first.event_type(), "reset");
    assert_eq!(first.data(), r#"{"reason":"lost"}"#);
    assert_eq!(first.last_event_id(), id(12));
    // Event 11 is kept: a resume.
    let first = first_event(&url, &id(10)).await;
    assert_eq!(
        (first.event_type(), first.last_event_id()),
        ("quote".into(), id(11).into())
    );

    // The server restarted: the same id means nothing to the new one,
    // although event 11 exists there too.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    let restarted = serve(listener, config);
    assert_ne!(restarted.hub().epoch(), demo.hub().epoch());
    let first = first_event(&url, &id(10)).await;
    assert_eq!(first.event_type(), "reset");
    assert_eq!(first.data(), r#"{"reason":"unknown"}"#);
}
