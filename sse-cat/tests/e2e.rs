//! The reconnecting client against a real hyper server on 127.0.0.1, with
//! scripted faults; and, where a test runs on tokio's paused clock, against
//! the same script in this process. Every wait is bounded.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use http::header::{HeaderValue, AUTHORIZATION};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyDataStream, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sse_proto::client::hyper::HyperConnector;
use sse_proto::client::{
    Client, Connector, Error as ClientError, ErrorKind, Request as SseRequest,
    Response as SseResponse, Update,
};
use sse_proto::session::{Config, Disconnect, StopReason};
use tokio::net::TcpListener;

/// What the server does on one connection.
#[derive(Clone, Debug)]
enum Step {
    Send(String),
    Sleep(Duration),
    /// Abort the connection mid-body (no clean end of the chunked body).
    Fail,
}

#[derive(Clone, Debug)]
enum Reply {
    Status(u16, &'static str, Option<&'static str>),
    Stream(Vec<Step>),
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    last_event_id: Option<String>,
    authorization: Option<String>,
    at: Instant,
}

type Script = Arc<dyn Fn(usize, Option<&str>) -> Reply + Send + Sync>;

/// Starts a server on 127.0.0.1 that answers connection `n` with
/// `script(n, last_event_id)`; returns its URL and what it saw.
async fn serve(script: Script) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let url = format!("http://{}/events", listener.local_addr().expect("address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (script, log) = (script.clone(), log.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let last_event_id = header("last-event-id");
                    let n = {
                        let mut log = log.lock().expect("log");
                        log.push(Seen {
                            last_event_id: last_event_id.clone(),
                            authorization: header("authorization"),
                            at: Instant::now(),
                        });
                        log.len() - 1
                    };
                    let reply = script(n, last_event_id.as_deref());
                    async move { Ok::<_, Infallible>(respond(reply)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (url, seen)
}

fn respond(reply: Reply) -> Response<BoxBody<Bytes, std::io::Error>> {
    match reply {
        Reply::Status(code, content_type, retry_after) => {
            let mut r = Response::builder()
                .status(StatusCode::from_u16(code).expect("status"))
                .header("content-type", content_type);
            if let Some(ra) = retry_after {
                r = r.header("retry-after", ra);
            }
            r.body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
                .expect("response")
        }
        Reply::Stream(steps) => {
            let frames = stream::unfold(steps.into_iter(), |mut steps| async move {
                loop {
                    match steps.next()? {
                        Step::Send(s) => return Some((Ok(Frame::data(Bytes::from(s))), steps)),
                        Step::Sleep(d) => tokio::time::sleep(d).await,
                        Step::Fail => {
                            return Some((Err(std::io::Error::other("scripted failure")), steps))
                        }
                    }
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(BodyExt::boxed(StreamBody::new(frames)))
                .expect("response")
        }
    }
}

fn event(id: u32) -> String {
    format!("id: {id}\nevent: tick\ndata: line one of {id}\ndata:  line two\n\n")
}

/// Short delays, and no jitter: the delays the tests see are exact.
fn fast_config() -> Config {
    Config::default()
        .initial_retry(Duration::from_millis(50))
        .min_retry(Duration::from_millis(10))
        .jitter(false)
}

/// Runs the client until it stops, at most 20 s.
async fn run<C: Connector + Send + 'static>(client: Client<C>) -> Vec<Update> {
    bounded(client.updates().collect::<Vec<_>>()).await
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("finished within 20 s")
}

fn events(updates: &[Update]) -> Vec<(String, String, String)> {
    updates
        .iter()
        .filter_map(Update::event)
        .map(|e| {
            (
                e.event_type().into_owned(),
                e.data().into_owned(),
                e.last_event_id().into_owned(),
            )
        })
        .collect()
}

fn ids_seen(seen: &Mutex<Vec<Seen>>) -> Vec<Option<String>> {
    seen.lock()
        .expect("log")
        .iter()
        .map(|s| s.last_event_id.clone())
        .collect()
}

fn connector(url: &str) -> HyperConnector {
    HyperConnector::new(url).expect("URL")
}

/// Whether the client stopped last, for `reason`.
fn stopped(updates: &[Update], reason: StopReason) -> bool {
    matches!(updates.last(), Some(Update::Stopped { reason: r, .. }) if *r == reason)
}

#[tokio::test]
async fn drops_mid_event_resume_with_every_event_exactly_once_in_order() {
    let script: Script = Arc::new(|n, _| {
        let mut steps: Vec<Step> = Vec::new();
        let (first, last, cut) = match n {
            0 => (1, 4, Some(Step::Fail)),
            1 => (5, 7, None),
            2 => (8, 10, None),
            _ => return Reply::Status(204, "text/event-stream", None),
        };
        for id in first..=last {
            steps.push(Step::Send(event(id)));
            steps.push(Step::Sleep(Duration::from_millis(5)));
        }
        // Half of the next event, then the connection goes: abruptly on the
        // first connection, with a clean end of body on the second.
        if last < 10 {
            steps.push(Step::Send(format!(
                "id: {}\nevent: tick\ndata: partial",
                last + 1
            )));
        }
        steps.extend(cut);
        Reply::Stream(steps)
    });
    let (url, seen) = serve(script).await;
    let updates = run(Client::new(connector(&url), fast_config())).await;

    let expected: Vec<_> = (1..=10)
        .map(|id| {
            (
                "tick".to_owned(),
                format!("line one of {id}\n line two"),
                id.to_string(),
            )
        })
        .collect();
    assert_eq!(events(&updates), expected);
    assert_eq!(
        ids_seen(&seen),
        [None, Some("4".into()), Some("7".into()), Some("10".into())]
    );
    let reasons: Vec<_> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Disconnected { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [Disconnect::Network, Disconnect::Ended, Disconnect::Ended]
    );
    assert!(stopped(&updates, StopReason::NoContent), "{updates:?}");
}

#[tokio::test]
async fn retry_field_changes_the_reconnection_delay() {
    let script: Script = Arc::new(|n, _| match n {
        0 => Reply::Stream(vec![Step::Send("retry: 400\ndata: a\n\n".into())]),
        _ => Reply::Status(204, "text/event-stream", None),
    });
    let (url, seen) = serve(script).await;
    let updates = run(Client::new(connector(&url), fast_config())).await;
    assert!(
        updates.iter().any(|u| matches!(
            u,
            Update::Disconnected {
                reason: Disconnect::Ended,
                retry_in,
                error: None
            } if *retry_in == Duration::from_millis(400)
        )),
        "{updates:?}"
    );
    let seen = seen.lock().expect("log");
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(400));
}

#[tokio::test]
async fn no_content_stops_without_reconnecting() {
    let (url, seen) = serve(Arc::new(|_, _| {
        Reply::Status(204, "text/event-stream", None)
    }))
    .await;
    let updates = run(Client::new(connector(&url), fast_config())).await;
    assert!(stopped(&updates, StopReason::NoContent), "{updates:?}");
    assert_eq!(seen.lock().expect("log").len(), 1);
}

#[tokio::test]
async fn a_500_a_4xx_and_a_wrong_content_type_stop_under_the_default_policy() {
    for (reply, reason, kind) in [
        (
            Reply::Status(500, "text/event-stream", None),
            StopReason::Status(500),
            ErrorKind::Status(500),
        ),
        (
            Reply::Status(404, "text/event-stream", Some("1")),
            StopReason::Status(404),
            ErrorKind::Status(404),
        ),
        (
            Reply::Status(200, "text/plain", None),
            StopReason::ContentType,
            ErrorKind::ContentType,
        ),
    ] {
        let (url, seen) = serve(Arc::new(move |_, _| reply.clone())).await;
        let updates = run(Client::new(connector(&url), fast_config())).await;
        let Some(Update::Stopped {
            reason: got,
            error: Some(error),
        }) = updates.last()
        else {
            panic!("{updates:?}")
        };
        assert_eq!((*got, error.kind()), (reason, kind));
        assert!(error.is_fatal());
        assert_eq!(
            seen.lock().expect("log").len(),
            1,
            "{reason:?}: no reconnect"
        );
    }
}

#[tokio::test]
async fn server_errors_are_retried_under_the_retry_policy() {
    let script: Script = Arc::new(|n, _| match n {
        0 => Reply::Status(500, "text/plain", None),
        1 => Reply::Status(503, "text/plain", Some("1")),
        // A proxy's error page: 200, but HTML.
        2 => Reply::Status(200, "text/html", None),
        3 => Reply::Stream(vec![Step::Send(event(1))]),
        _ => Reply::Status(204, "text/event-stream", None),
    });
    let (url, seen) = serve(script).await;
    let config = fast_config().retry_server_errors(true);
    let updates = run(Client::new(connector(&url), config)).await;
    assert_eq!(events(&updates).len(), 1);
    let waits: Vec<_> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Disconnected {
                reason: Disconnect::Status(code),
                retry_in,
                ..
            } => Some((*code, *retry_in)),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 2, "{updates:?}");
    assert_eq!(waits[0].0, 500);
    assert_eq!(
        waits[1],
        (503, Duration::from_secs(1)),
        "Retry-After is honoured"
    );
    assert!(updates.iter().any(|u| matches!(
        u,
        Update::Disconnected {
            reason: Disconnect::ContentType,
            ..
        }
    )));
    let seen = seen.lock().expect("log");
    assert_eq!(seen.len(), 5);
    assert!(seen[2].at - seen[1].at >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_stalled_server_trips_the_idle_timeout() {
    let script: Script = Arc::new(|n, _| match n {
        0 => Reply::Stream(vec![
            Step::Send(event(1)),
            Step::Sleep(Duration::from_secs(30)),
        ]),
        _ => Reply::Status(204, "text/event-stream", None),
    });
    let (url, seen) = serve(script).await;
    let config = fast_config().idle_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let updates = run(Client::new(connector(&url), config)).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait for the stalled server"
    );
    assert!(
        updates.iter().any(|u| matches!(
            u,
            Update::Disconnected {
                reason: Disconnect::Idle,
                ..
            }
        )),
        "{updates:?}"
    );
    assert_eq!(ids_seen(&seen), [None, Some("1".into())]);
}

/// A connector that answers attempt `n` with `script(n, last_event_id)` in
/// this process, through the same `respond` as the server but with no socket:
/// for the tests on tokio's paused clock, where real I/O would let the clock
/// jump ahead while a read is in flight.
struct InProcess {
    script: Script,
    attempts: Mutex<usize>,
}

impl InProcess {
    fn new(script: Script) -> Self {
        InProcess {
            script,
            attempts: Mutex::new(0),
        }
    }
}

impl Connector for InProcess {
    type Body = futures_util::stream::BoxStream<'static, Result<Bytes, ClientError>>;
    async fn connect(&self, request: &SseRequest) -> Result<SseResponse<Self::Body>, ClientError> {
        let n = {
            let mut attempts = self.attempts.lock().expect("attempts");
            *attempts += 1;
            *attempts - 1
        };
        let last_event_id = request
            .headers
            .get("last-event-id")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let response = respond((self.script)(n, last_event_id.as_deref()));
        let (parts, body) = response.into_parts();
        let body = BodyDataStream::new(body).map_err(ClientError::body).boxed();
        let mut response = SseResponse::new(parts.status.as_u16(), body);
        response.headers = parts.headers;
        Ok(response)
    }
}

#[tokio::test(start_paused = true)]
async fn keep_alive_comments_every_100_ms_keep_a_stream_open_past_a_300_ms_idle_timeout() {
    let script: Script = Arc::new(|n, _| match n {
        0 => {
            let mut steps = vec![Step::Send(event(1))];
            for _ in 0..8 {
                steps.push(Step::Sleep(Duration::from_millis(100)));
                steps.push(Step::Send(": keep-alive\n".into()));
            }
            steps.push(Step::Send(event(2)));
            Reply::Stream(steps)
        }
        _ => Reply::Status(204, "text/event-stream", None),
    });
    // On the paused clock the keep-alives come exactly 100 ms apart, however
    // slow the machine: an idle timeout that trips is the client's doing.
    let config = fast_config().idle_timeout(Duration::from_millis(300));
    let updates = run(Client::new(InProcess::new(script), config)).await;
    assert_eq!(
        events(&updates),
        [1, 2].map(|id| (
            "tick".to_owned(),
            format!("line one of {id}\n line two"),
            id.to_string()
        )),
        "{updates:?}"
    );
    let idle = updates.iter().any(|u| {
        matches!(
            u,
            Update::Disconnected {
                reason: Disconnect::Idle,
                ..
            }
        )
    });
    assert!(
        !idle,
        "800 ms of keep-alives every 100 ms must not trip a 300 ms idle timeout: {updates:?}"
    );
}

#[tokio::test]
async fn each_attempt_builds_its_request_afresh() {
    let script: Script = Arc::new(|n, _| match n {
        0 | 1 => Reply::Stream(vec![Step::Send(event(n as u32 + 1))]),
        _ => Reply::Status(204, "text/event-stream", None),
    });
    let (url, seen) = serve(script).await;
    let mut tokens = 0;
    let client = Client::new(connector(&url), fast_config()).on_request(move |request| {
        tokens += 1;
        let value = HeaderValue::from_str(&format!("Bearer token-{tokens}")).expect("header");
        request.headers.insert(AUTHORIZATION, value);
    });
    let updates = run(client).await;
    assert_eq!(events(&updates).len(), 2);
    let auth: Vec<_> = seen
        .lock()
        .expect("log")
        .iter()
        .map(|s| s.authorization.clone())
        .collect();
    assert_eq!(
        auth,
        [
            Some("Bearer token-1".into()),
            Some("Bearer token-2".into()),
            Some("Bearer token-3".into())
        ]
    );
}

#[tokio::test]
async fn connection_refused_is_retried_up_to_max_attempts() {
    // Bind, note the port, close: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let config = fast_config().max_attempts(3);
    let updates = run(Client::new(connector(&format!("http://{addr}/")), config)).await;
    let attempts = updates
        .iter()
        .filter(|u| matches!(u, Update::Connecting { .. }))
        .count();
    assert_eq!(attempts, 3);
    assert!(stopped(&updates, StopReason::MaxAttempts), "{updates:?}");
    let Some(Update::Disconnected {
        error: Some(error), ..
    }) = updates
        .iter()
        .find(|u| matches!(u, Update::Disconnected { .. }))
    else {
        panic!("{updates:?}");
    };
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert!(!error.is_fatal());
    let report = error.report().to_string();
    assert!(
        report.to_lowercase().contains("connection refused"),
        "the cause is reported, not only 'cannot connect': {report}"
    );
}

/// Starts the `sse-cat` binary with its output captured; it is killed if
/// the test drops it.
fn spawn_sse_cat(args: Vec<String>) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sse-cat"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sse-cat starts")
}

/// Runs the `sse-cat` binary on a URL until it exits, at most 20 s.
async fn sse_cat_url(args: Vec<String>) -> std::process::Output {
    let child = spawn_sse_cat(args);
    bounded(child.wait_with_output())
        .await
        .expect("sse-cat runs")
}

#[tokio::test]
async fn sse_cat_follows_a_url_and_reports_reconnects() {
    let script: Script = Arc::new(|n, _| match n {
        // The pause lets the bytes go out before the connection is cut, as
        // in a real drop mid-event.
        0 => Reply::Stream(vec![
            Step::Send(format!("retry: 100\n{}", event(1))),
            Step::Send("id: 2\ndata: cut".into()),
            Step::Sleep(Duration::from_millis(100)),
            Step::Fail,
        ]),
        1 => Reply::Stream(vec![Step::Send(event(2))]),
        _ => Reply::Status(204, "text/event-stream", None),
    });
    let (url, seen) = serve(script).await;
    let out = sse_cat_url(vec!["--json".into(), url]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        concat!(
            "{\"type\":\"tick\",\"data\":\"line one of 1\\n line two\",\"last_event_id\":\"1\"}\n",
            "{\"type\":\"tick\",\"data\":\"line one of 2\\n line two\",\"last_event_id\":\"2\"}\n",
        )
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for said in [
        "(attempt 1)",
        "connected",
        "disconnected (Network",
        "reconnecting in ",
        "Last-Event-ID: 1",
        "204",
    ] {
        assert!(err.contains(said), "stderr lacks {said:?}: {err}");
    }
    assert_eq!(ids_seen(&seen), [None, Some("1".into()), Some("2".into())]);
}

#[cfg(unix)]
#[tokio::test]
async fn sse_cat_stops_on_ctrl_c_with_exit_130_after_printing_what_came() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    let script: Script = Arc::new(|_, _| {
        let mut steps = vec![Step::Send(event(1))];
        for _ in 0..200 {
            steps.push(Step::Sleep(Duration::from_millis(100)));
            steps.push(Step::Send(":\n".into()));
        }
        Reply::Stream(steps)
    });
    let (url, seen) = serve(script).await;
    let child = spawn_sse_cat(vec![url]);
    // Wait (bounded) until it is connected and has had the first event.
    bounded(async {
        while seen.lock().expect("log").is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    })
    .await;
    let pid = child.id().expect("running");
    let pid = Pid::from_raw(i32::try_from(pid).expect("pid fits i32"));
    kill(pid, Signal::SIGINT).expect("SIGINT is delivered");
    let out = bounded(child.wait_with_output())
        .await
        .expect("sse-cat exits");
    // 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
    assert_eq!(out.status.code(), Some(130), "exit {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("line one of 1"));
}

#[tokio::test]
async fn sse_cat_posts_a_body_from_a_file_and_says_it_is_connecting_before_any_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/chat", listener.local_addr().expect("address"));
    let body = r#"{"model":"m","stream":true}"#;
    let file = std::env::temp_dir().join(format!("sse-cat-body-{}.json", std::process::id()));
    std::fs::write(&file, body).expect("write the body file");

    let mut child = spawn_sse_cat(vec![
        "-H".into(),
        "Content-Type: application/json".into(),
        "-d".into(),
        format!("@{}", file.display()),
        "--max-attempts".into(),
        "1".into(),
        url,
    ]);
    let (mut tcp, _) = bounded(listener.accept()).await.expect("a connection");
    // Before the server answers, sse-cat has said what it is doing.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let mut said = Vec::new();
    bounded(async {
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&said).contains("connecting to") {
            let n = stderr.read(&mut buf).await.expect("read stderr");
            assert!(n > 0, "stderr closed: {}", String::from_utf8_lossy(&said));
            said.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    // The request: a POST (a body makes it one, as in curl) with the body.
    let mut request = Vec::new();
    bounded(async {
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&request).ends_with(body) {
            let n = tcp.read(&mut buf).await.expect("read the request");
            assert!(n > 0, "{}", String::from_utf8_lossy(&request));
            request.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let request = String::from_utf8_lossy(&request).to_lowercase();
    assert!(request.starts_with("post /chat http/1.1\r\n"), "{request}");
    assert!(
        request.contains("content-type: application/json\r\n"),
        "{request}"
    );
    assert!(
        request.contains("accept: text/event-stream\r\n"),
        "{request}"
    );
    tcp.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        .await
        .expect("answer");
    let out = bounded(child.wait_with_output())
        .await
        .expect("sse-cat exits");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "exit {:?}", out.status);
}
