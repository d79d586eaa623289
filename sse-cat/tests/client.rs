//! The ready connectors end to end: one suite, written once and run against
//! both `ReqwestConnector` and `HyperConnector` (each test is instantiated
//! as `NAME_reqwest` and `NAME_hyper`), against real hyper servers on
//! 127.0.0.1 scripted per test. One test per row of issue 15's "Done when"
//! list (the redirect row has a second one, for the hops after a change of
//! origin), and one for `Client::get`. Every wait is bounded; no test sleeps
//! to let something happen.
//!
//! The configs turn jitter off and shorten the delays, so that the delays
//! the tests see are exact and the suite is fast; a test that checks a
//! default says so.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sse_proto::client::hyper::HyperConnector;
use sse_proto::client::reqwest::ReqwestConnector;
use sse_proto::client::{Client, Connector, Error as ClientError, ErrorKind, Update};
use sse_proto::session::{Config, Disconnect, StopReason};
use tokio::net::TcpListener;

/// Makes a connector for a URL: `ReqwestConnector::new` or
/// `HyperConnector::new`.
type Connect<C> = fn(&str) -> Result<C, ClientError>;

/// Instantiates each generic test for both ready connectors, under the
/// names given (`NAME_reqwest`, `NAME_hyper`); attributes before a name
/// (`#[ignore = "bug: ..."]`) apply to that instance only.
macro_rules! for_both_connectors {
    ($($test:ident: $(#[$r:meta])* $reqwest:ident, $(#[$h:meta])* $hyper:ident;)*) => {$(
        $(#[$r])*
        #[tokio::test]
        async fn $reqwest() {
            $test(ReqwestConnector::new).await;
        }

        $(#[$h])*
        #[tokio::test]
        async fn $hyper() {
            $test(HyperConnector::new).await;
        }
    )*};
}

for_both_connectors! {
    redirects_301_to_308_are_followed_resending_last_event_id_and_credentials_same_origin_only:
        redirects_301_to_308_are_followed_resending_last_event_id_and_credentials_same_origin_only_reqwest,
        redirects_301_to_308_are_followed_resending_last_event_id_and_credentials_same_origin_only_hyper;
    credentials_dropped_across_origins_stay_dropped_on_later_hops:
        credentials_dropped_across_origins_stay_dropped_on_later_hops_reqwest,
        credentials_dropped_across_origins_stay_dropped_on_later_hops_hyper;
    a_redirect_loop_stops_the_client_at_once_with_a_fatal_redirect_error:
        a_redirect_loop_stops_the_client_at_once_with_a_fatal_redirect_error_reqwest,
        a_redirect_loop_stops_the_client_at_once_with_a_fatal_redirect_error_hyper;
    a_post_with_a_json_body_is_resent_identical_on_every_reconnect:
        a_post_with_a_json_body_is_resent_identical_on_every_reconnect_reqwest,
        a_post_with_a_json_body_is_resent_identical_on_every_reconnect_hyper;
    a_502_for_2_s_then_200_is_retried_by_default_with_every_event_once_in_order:
        a_502_for_2_s_then_200_is_retried_by_default_with_every_event_once_in_order_reqwest,
        a_502_for_2_s_then_200_is_retried_by_default_with_every_event_once_in_order_hyper;
    a_huge_retry_after_on_a_503_waits_max_retry_then_reconnects:
        a_huge_retry_after_on_a_503_waits_max_retry_then_reconnects_reqwest,
        a_huge_retry_after_on_a_503_waits_max_retry_then_reconnects_hyper;
    a_retry_field_of_u64_max_is_capped_by_max_retry:
        a_retry_field_of_u64_max_is_capped_by_max_retry_reqwest,
        a_retry_field_of_u64_max_is_capped_by_max_retry_hyper;
    a_server_that_never_answers_shows_connecting_first_then_times_out_up_to_max_attempts:
        a_server_that_never_answers_shows_connecting_first_then_times_out_up_to_max_attempts_reqwest,
        a_server_that_never_answers_shows_connecting_first_then_times_out_up_to_max_attempts_hyper;
    comments_are_updates_with_the_comments_option_and_never_events:
        comments_are_updates_with_the_comments_option_and_never_events_reqwest,
        comments_are_updates_with_the_comments_option_and_never_events_hyper;
    the_handle_reconnects_at_once_with_last_event_id_and_closes_without_error:
        the_handle_reconnects_at_once_with_last_event_id_and_closes_without_error_reqwest,
        the_handle_reconnects_at_once_with_last_event_id_and_closes_without_error_hyper;
    a_refused_connection_is_tried_max_attempts_times_with_a_retryable_connect_error:
        a_refused_connection_is_tried_max_attempts_times_with_a_retryable_connect_error_reqwest,
        a_refused_connection_is_tried_max_attempts_times_with_a_retryable_connect_error_hyper;
    a_url_without_scheme_or_with_another_scheme_fails_at_new_as_a_fatal_invalid_request:
        a_url_without_scheme_or_with_another_scheme_fails_at_new_as_a_fatal_invalid_request_reqwest,
        a_url_without_scheme_or_with_another_scheme_fails_at_new_as_a_fatal_invalid_request_hyper;
    a_gzip_body_stops_with_content_encoding_after_asking_for_identity:
        a_gzip_body_stops_with_content_encoding_after_asking_for_identity_reqwest,
        a_gzip_body_stops_with_content_encoding_after_asking_for_identity_hyper;
    user_accept_and_last_event_id_headers_replace_the_defaults_not_duplicate_them:
        user_accept_and_last_event_id_headers_replace_the_defaults_not_duplicate_them_reqwest,
        user_accept_and_last_event_id_headers_replace_the_defaults_not_duplicate_them_hyper;
}

// ---------------------------------------------------------------------------
// The scripted server.

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of the header `name`, to tell one from two.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("a text header"))
            .collect()
    }

    /// The `Last-Event-ID` sent, as a number.
    fn last_event_id(&self) -> Option<u32> {
        self.header("last-event-id")
            .map(|id| id.parse().expect("a numeric Last-Event-ID"))
    }
}

/// What a server saw, request by request.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn push(&self, seen: Seen) -> usize {
        let mut log = self.0.lock().expect("log");
        log.push(seen);
        log.len() - 1
    }

    fn all(&self) -> Vec<Seen> {
        self.0.lock().expect("log").clone()
    }
}

/// One piece of a response body.
#[derive(Clone, Debug)]
enum Step {
    Send(Bytes),
    /// Keep the connection open, sending nothing more.
    Hold,
}

/// What the server answers to one request.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<Step>,
}

impl Reply {
    fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A 200 `text/event-stream` that sends `text`, then ends the body.
    fn stream(text: &str) -> Self {
        Reply::status(200)
            .header("content-type", "text/event-stream")
            .send(text.to_owned())
    }

    fn redirect(status: u16, location: &str) -> Self {
        Reply::status(status).header("location", location)
    }

    fn no_content() -> Self {
        Reply::status(204)
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn send(mut self, bytes: impl Into<Bytes>) -> Self {
        self.body.push(Step::Send(bytes.into()));
        self
    }

    /// Keeps the connection open after what was sent.
    fn hold(mut self) -> Self {
        self.body.push(Step::Hold);
        self
    }
}

fn respond(reply: Reply) -> Response<UnsyncBoxBody<Bytes, Infallible>> {
    let mut response =
        Response::builder().status(StatusCode::from_u16(reply.status).expect("status"));
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    let frames = stream::iter(reply.body).then(|step| async move {
        match step {
            Step::Send(bytes) => Ok(Frame::data(bytes)),
            Step::Hold => std::future::pending().await,
        }
    });
    response
        .body(StreamBody::new(frames).boxed_unsync())
        .expect("response")
}

/// A listener on 127.0.0.1 and its origin (`http://127.0.0.1:PORT`): another
/// port is another origin.
async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let origin = format!("http://{}", listener.local_addr().expect("address"));
    (listener, origin)
}

/// Serves HTTP/1 on `listener`: request `n` (counted over all connections)
/// is answered with `script(n, what the server saw)`, after its whole body
/// is read.
fn serve(
    listener: TcpListener,
    script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static,
) -> Log {
    let script = Arc::new(script);
    let log = Log::default();
    let server_log = log.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (script, log) = (script.clone(), server_log.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (script, log) = (script.clone(), log.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let seen = Seen {
                            method: parts.method,
                            path: parts.uri.path().to_owned(),
                            headers: parts.headers,
                            body,
                            at: Instant::now(),
                        };
                        let n = log.push(seen.clone());
                        Ok::<_, Infallible>(respond(script(n, &seen)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    log
}

/// A scripted server; its origin and log.
async fn server(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> (String, Log) {
    let (listener, origin) = bind().await;
    (origin, serve(listener, script))
}

// ---------------------------------------------------------------------------
// The client side.

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// No jitter and short delays: the delays the tests see are exact.
fn fast_config() -> Config {
    Config::default()
        .jitter(false)
        .initial_retry(ms(20))
        .min_retry(ms(10))
}

fn new_client<C: Connector>(connect: Connect<C>, url: &str, config: Config) -> Client<C> {
    Client::new(connect(url).expect("a valid URL"), config)
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("finished within 20 s")
}

/// Runs the client until it stops, at most 20 s.
async fn run<C: Connector + Send + 'static>(client: Client<C>) -> Vec<Update> {
    bounded(client.updates().collect()).await
}

/// The events' data, in order.
fn data(updates: &[Update]) -> Vec<String> {
    updates
        .iter()
        .filter_map(Update::event)
        .map(|e| e.data().into_owned())
        .collect()
}

fn connecting(updates: &[Update]) -> usize {
    updates
        .iter()
        .filter(|u| matches!(u, Update::Connecting { .. }))
        .count()
}

/// The last update, which must be `Stopped`: its reason and error.
fn stop(updates: &[Update]) -> (StopReason, Option<&ClientError>) {
    match updates.last() {
        Some(Update::Stopped { reason, error }) => (*reason, error.as_ref()),
        _ => panic!("the client did not stop last: {updates:?}"),
    }
}

/// Asserts the client stopped last, for `reason`, with no error.
fn assert_stopped_without_error(updates: &[Update], reason: StopReason) {
    let (got, error) = stop(updates);
    assert_eq!(got, reason, "{updates:?}");
    assert!(error.is_none(), "{updates:?}");
}

/// The `Disconnected` updates: reason, delay, error.
fn disconnects(updates: &[Update]) -> Vec<(Disconnect, Duration, Option<&ClientError>)> {
    updates
        .iter()
        .filter_map(|u| match u {
            Update::Disconnected {
                reason,
                retry_in,
                error,
            } => Some((*reason, *retry_in, error.as_ref())),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The tests, one per row.

const JSON: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#;

/// A POST with a JSON body and credentials, sent to `/start` on origin A,
/// which redirects with `code` to `/same` (same origin), which redirects
/// with `code` to origin B. Two attempts, so the second carries
/// `Last-Event-ID` through both hops.
async fn redirects_301_to_308_are_followed_resending_last_event_id_and_credentials_same_origin_only<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    for code in [301, 302, 303, 307, 308] {
        let (a_listener, a) = bind().await;
        let (b_listener, b) = bind().await;
        let target = format!("{b}/events");
        let a_log = serve(a_listener, move |_, seen| match seen.path.as_str() {
            "/start" => Reply::redirect(code, "/same"),
            _ => Reply::redirect(code, &target),
        });
        let b_log = serve(b_listener, |n, _| match n {
            0 => Reply::stream("id: 1\ndata: one\n\n"),
            _ => Reply::no_content(),
        });
        let client = new_client(connect, &format!("{a}/start"), fast_config())
            .method(Method::POST)
            .header("content-type", "application/json")
            .and_then(|c| c.header("authorization", "Bearer secret"))
            .and_then(|c| c.header("cookie", "session=1"))
            .expect("valid headers")
            .body(JSON);
        let updates = run(client).await;

        assert_eq!(data(&updates), ["one"], "{code}: {updates:?}");
        assert_eq!(
            stop(&updates).0,
            StopReason::NoContent,
            "{code}: {updates:?}"
        );
        let (a_seen, b_seen) = (a_log.all(), b_log.all());
        let paths: Vec<_> = a_seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/start", "/same", "/start", "/same"], "{code}");
        assert_eq!(b_seen.len(), 2, "{code}");
        for attempt in 0..2 {
            let hops = [
                &a_seen[2 * attempt],
                &a_seen[2 * attempt + 1],
                &b_seen[attempt],
            ];
            for (hop, seen) in hops.into_iter().enumerate() {
                let at = format!("{code}, attempt {}, hop {hop} ({})", attempt + 1, seen.path);
                let id: &[&str] = if attempt == 0 { &[] } else { &["1"] };
                assert_eq!(seen.all("last-event-id"), id, "{at}");
                // 307 and 308 keep the method and body; 303 (and 301 or 302
                // after a POST) turn the request into a GET without one.
                if hop == 0 || matches!(code, 307 | 308) {
                    assert_eq!(seen.method, Method::POST, "{at}");
                    assert_eq!(seen.body, JSON, "{at}");
                    assert_eq!(
                        seen.header("content-type"),
                        Some("application/json"),
                        "{at}"
                    );
                } else {
                    assert_eq!(seen.method, Method::GET, "{at}");
                    assert!(seen.body.is_empty(), "{at}");
                    assert_eq!(seen.header("content-type"), None, "{at}");
                }
                // Credentials go to origin A only.
                let same_origin = hop < 2;
                assert_eq!(
                    seen.header("authorization"),
                    same_origin.then_some("Bearer secret"),
                    "{at}"
                );
                assert_eq!(
                    seen.header("cookie"),
                    same_origin.then_some("session=1"),
                    "{at}"
                );
            }
        }
    }
}

/// A -> B -> B: once dropped on the way to another origin, credentials are
/// not sent on a further hop within that origin either (as browsers do).
async fn credentials_dropped_across_origins_stay_dropped_on_later_hops<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let (b, b_log) = server(|_, seen| match seen.path.as_str() {
        "/hop" => Reply::redirect(307, "/events"),
        _ => Reply::no_content(),
    })
    .await;
    let target = format!("{b}/hop");
    let (a, a_log) = server(move |_, _| Reply::redirect(307, &target)).await;
    let client = new_client(connect, &format!("{a}/start"), fast_config())
        .header("authorization", "Bearer secret")
        .and_then(|c| c.header("cookie", "session=1"))
        .expect("valid headers");
    let updates = run(client).await;

    assert_eq!(stop(&updates).0, StopReason::NoContent, "{updates:?}");
    assert_eq!(
        a_log.all()[0].header("authorization"),
        Some("Bearer secret")
    );
    let b_seen = b_log.all();
    let paths: Vec<_> = b_seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/hop", "/events"]);
    for seen in &b_seen {
        assert_eq!(seen.header("authorization"), None, "{}", seen.path);
        assert_eq!(seen.header("cookie"), None, "{}", seen.path);
    }
}

async fn a_redirect_loop_stops_the_client_at_once_with_a_fatal_redirect_error<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let (a_listener, a) = bind().await;
    let (b_listener, b) = bind().await;
    let (to_a, to_b) = (format!("{a}/events"), format!("{b}/events"));
    let a_log = serve(a_listener, move |_, _| Reply::redirect(302, &to_b));
    let b_log = serve(b_listener, move |_, _| Reply::redirect(302, &to_a));
    let started = Instant::now();
    let updates = run(new_client(connect, &format!("{a}/events"), fast_config())).await;

    let (reason, error) = stop(&updates);
    assert_eq!(reason, StopReason::Fatal, "{updates:?}");
    let error = error.expect("an error");
    assert_eq!(error.kind(), ErrorKind::Redirect, "{}", error.report());
    assert!(error.is_fatal());
    assert_eq!(
        connecting(&updates),
        1,
        "a loop is not retried: {updates:?}"
    );
    let requests = a_log.all().len() + b_log.all().len();
    assert!((2..=11).contains(&requests), "{requests} requests");
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
}

async fn a_post_with_a_json_body_is_resent_identical_on_every_reconnect<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    // The server ends the stream after each event; the third request is told
    // to stop.
    let (origin, log) = server(|n, _| match n {
        0 => Reply::stream("id: 1\ndata: a\n\n"),
        1 => Reply::stream("id: 2\ndata: b\n\n"),
        _ => Reply::no_content(),
    })
    .await;
    let client = new_client(connect, &format!("{origin}/v1/chat"), fast_config())
        .method(Method::POST)
        .header("content-type", "application/json")
        .expect("valid header")
        .body(JSON);
    let updates = run(client).await;

    assert_eq!(data(&updates), ["a", "b"], "{updates:?}");
    assert_stopped_without_error(&updates, StopReason::NoContent);
    let seen = log.all();
    assert_eq!(seen.len(), 3);
    for (n, seen) in seen.iter().enumerate() {
        assert_eq!(seen.method, Method::POST, "request {n}");
        assert_eq!(
            seen.all("content-type"),
            ["application/json"],
            "request {n}"
        );
        assert_eq!(seen.body, JSON, "request {n}");
        serde_json::from_slice::<serde_json::Value>(&seen.body).expect("JSON");
        assert_eq!(
            seen.last_event_id(),
            [None, Some(1), Some(2)][n],
            "request {n}"
        );
    }
}

/// The server has events 1 to 6 and sends up to 3 after the `Last-Event-ID`
/// it is given, then ends the stream; from its second request on, it
/// answers 502 for 2 s, as a proxy does during a deploy.
async fn a_502_for_2_s_then_200_is_retried_by_default_with_every_event_once_in_order<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let deploy: Mutex<Option<Instant>> = Mutex::new(None);
    let (origin, log) = server(move |n, seen| {
        if n > 0 {
            let since = *deploy.lock().expect("deploy").get_or_insert(seen.at);
            if seen.at - since < Duration::from_secs(2) {
                return Reply::status(502).header("content-type", "text/html");
            }
        }
        let from = seen.last_event_id().unwrap_or(0);
        if from >= 6 {
            return Reply::no_content();
        }
        let events: String = (from + 1..=(from + 3).min(6))
            .map(|id| format!("id: {id}\ndata: event {id}\n\n"))
            .collect();
        Reply::stream(&events)
    })
    .await;
    // The default status policy; only the backoff is capped, to keep the
    // test short.
    let config = fast_config().max_backoff(ms(200));
    let started = Instant::now();
    let updates = run(new_client(connect, &format!("{origin}/events"), config)).await;

    let expected: Vec<_> = (1..=6).map(|id| format!("event {id}")).collect();
    assert_eq!(data(&updates), expected, "{updates:?}");
    assert_stopped_without_error(&updates, StopReason::NoContent);
    let bad_gateways: Vec<_> = disconnects(&updates)
        .into_iter()
        .filter(|(reason, _, _)| *reason == Disconnect::Status(502))
        .collect();
    assert!(bad_gateways.len() >= 2, "{updates:?}");
    for (_, _, error) in bad_gateways {
        let error = error.expect("an error");
        assert_eq!(error.kind(), ErrorKind::Status(502));
        assert!(!error.is_fatal());
    }
    // Every request during the deploy asked to resume after event 3.
    let seen = log.all();
    let ids: Vec<_> = seen.iter().map(Seen::last_event_id).collect();
    assert_eq!(ids[0], None);
    assert!(
        ids[1..ids.len() - 2].iter().all(|id| *id == Some(3)),
        "{ids:?}"
    );
    assert_eq!(ids[ids.len() - 2..], [Some(3), Some(6)]);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

async fn a_huge_retry_after_on_a_503_waits_max_retry_then_reconnects<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let (origin, log) = server(|n, _| match n {
        0 => Reply::status(503).header("retry-after", "99999999999999999999"),
        1 => Reply::stream("id: 1\ndata: back\n\n"),
        _ => Reply::no_content(),
    })
    .await;
    let config = fast_config().max_retry(ms(300));
    let updates = run(new_client(connect, &format!("{origin}/events"), config)).await;

    let disconnects = disconnects(&updates);
    let (reason, retry_in, error) = disconnects[0];
    assert_eq!(
        (reason, retry_in),
        (Disconnect::Status(503), ms(300)),
        "{updates:?}"
    );
    let error = error.expect("an error");
    assert_eq!(error.kind(), ErrorKind::Status(503));
    assert!(!error.is_fatal());
    // Then it connects again, and only after the capped wait.
    assert_eq!(data(&updates), ["back"], "{updates:?}");
    assert_stopped_without_error(&updates, StopReason::NoContent);
    let seen = log.all();
    assert_eq!(seen.len(), 3);
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= ms(300), "waited {waited:?}");
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}

async fn a_retry_field_of_u64_max_is_capped_by_max_retry<C: Connector + Send + 'static>(
    connect: Connect<C>,
) {
    let (origin, log) = server(|n, _| match n {
        0 => Reply::stream("retry: 18446744073709551615\nid: 1\ndata: a\n\n"),
        _ => Reply::no_content(),
    })
    .await;
    let config = fast_config().max_retry(ms(300));
    let updates = run(new_client(connect, &format!("{origin}/events"), config)).await;

    assert_eq!(data(&updates), ["a"]);
    let disconnects = disconnects(&updates);
    assert_eq!(disconnects.len(), 1, "{updates:?}");
    assert_eq!(
        (disconnects[0].0, disconnects[0].1),
        (Disconnect::Ended, ms(300)),
        "{updates:?}"
    );
    let seen = log.all();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].last_event_id(), Some(1));
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= ms(300),
        "the capped retry is honoured: {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}

async fn a_server_that_never_answers_shows_connecting_first_then_times_out_up_to_max_attempts<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    // Accepts every connection and holds it, never reading or answering.
    let (listener, origin) = bind().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    let config = fast_config().connect_timeout(ms(200)).max_attempts(2);
    let started = Instant::now();
    let mut updates = new_client(connect, &format!("{origin}/events"), config).updates();

    let first = bounded(updates.next()).await;
    assert!(
        matches!(first, Some(Update::Connecting { attempt: 1, .. })),
        "{first:?}"
    );
    let rest: Vec<Update> = bounded(updates.collect()).await;
    assert!(started.elapsed() >= ms(400), "two connect timeouts");
    assert_eq!(connecting(&rest), 1, "{rest:?}");
    let disconnects = disconnects(&rest);
    assert_eq!(disconnects.len(), 2, "{rest:?}");
    for (reason, _, error) in disconnects {
        assert_eq!(reason, Disconnect::ConnectTimeout);
        let error = error.expect("an error");
        assert_eq!(error.kind(), ErrorKind::ConnectTimeout);
        assert!(!error.is_fatal());
    }
    let (reason, error) = stop(&rest);
    assert_eq!(reason, StopReason::MaxAttempts);
    assert_eq!(error.map(ClientError::kind), Some(ErrorKind::MaxAttempts));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "one connection per attempt"
    );
}

async fn comments_are_updates_with_the_comments_option_and_never_events<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let script = |n, _: &Seen| match n {
        0 => {
            Reply::stream(": keep-alive\n\nid: 1\ndata: a\n\n: keep-alive\n: second\n\ndata: b\n\n")
        }
        _ => Reply::no_content(),
    };
    let config = fast_config().comments(true);

    let (origin, _) = server(script).await;
    let updates = run(new_client(
        connect,
        &format!("{origin}/events"),
        config.clone(),
    ))
    .await;
    let seen: Vec<String> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Comment(text) => Some(format!("comment {}", String::from_utf8_lossy(text))),
            Update::Event(e) => Some(format!("event {}", e.data())),
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        [
            "comment  keep-alive",
            "event a",
            "comment  keep-alive",
            "comment  second",
            "event b"
        ],
        "{updates:?}"
    );

    let (origin, _) = server(script).await;
    let events = new_client(connect, &format!("{origin}/events"), config).events();
    let events: Vec<_> = bounded(events.collect()).await;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| e.expect("no error item").data().into_owned())
        .collect();
    assert_eq!(events, ["a", "b"]);
}

async fn the_handle_reconnects_at_once_with_last_event_id_and_closes_without_error<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let (origin, log) =
        server(|n, _| Reply::stream(&format!("id: {0}\ndata: {0}\n\n", n + 1)).hold()).await;
    // A reconnection time far longer than the test may take: a reconnect
    // that comes is the handle's doing.
    let config = fast_config().initial_retry(Duration::from_secs(60));
    let client = new_client(connect, &format!("{origin}/events"), config);
    let handle = client.handle();
    // The client runs in a task of its own; this one holds the handle.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut updates = client.updates();
    tokio::spawn(async move {
        while let Some(update) = updates.next().await {
            if tx.send(update).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    until(
        &mut rx,
        &mut got,
        |u| matches!(u, Update::Event(e) if e.data() == "1"),
    )
    .await;
    handle.reconnect();
    until(
        &mut rx,
        &mut got,
        |u| matches!(u, Update::Event(e) if e.data() == "2"),
    )
    .await;
    handle.close();
    until(&mut rx, &mut got, |u| matches!(u, Update::Stopped { .. })).await;
    assert!(
        bounded(rx.recv()).await.is_none(),
        "the stream ends after Stopped"
    );

    let disconnects = disconnects(&got);
    assert_eq!(disconnects.len(), 1, "{got:?}");
    let (reason, retry_in, error) = disconnects[0];
    assert_eq!((reason, retry_in), (Disconnect::Requested, Duration::ZERO));
    assert!(error.is_none(), "{error:?}");
    assert!(got.iter().any(|u| matches!(
        u,
        Update::Connecting { last_event_id: Some(id), .. } if id == "1"
    )));
    assert_stopped_without_error(&got, StopReason::Closed);
    let ids: Vec<_> = log.all().iter().map(Seen::last_event_id).collect();
    assert_eq!(ids, [None, Some(1)]);
}

/// Moves updates from `rx` to `got` up to (and with) the first that `is_it`
/// accepts.
async fn until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Update>,
    got: &mut Vec<Update>,
    is_it: fn(&Update) -> bool,
) {
    loop {
        let update = bounded(rx.recv()).await.expect("an update");
        let done = is_it(&update);
        got.push(update);
        if done {
            return;
        }
    }
}

async fn a_refused_connection_is_tried_max_attempts_times_with_a_retryable_connect_error<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    // Bind, note the port, close: nothing listens there.
    let (listener, origin) = bind().await;
    drop(listener);
    let config = fast_config().max_attempts(3);
    let updates = run(new_client(connect, &format!("{origin}/events"), config)).await;

    assert_eq!(connecting(&updates), 3, "{updates:?}");
    let (reason, error) = stop(&updates);
    assert_eq!(reason, StopReason::MaxAttempts);
    assert_eq!(error.map(ClientError::kind), Some(ErrorKind::MaxAttempts));
    let disconnects = disconnects(&updates);
    assert_eq!(disconnects.len(), 3, "{updates:?}");
    for (reason, _, error) in disconnects {
        assert_eq!(reason, Disconnect::Network);
        let error = error.expect("an error");
        assert_eq!(error.kind(), ErrorKind::Connect);
        assert!(!error.is_fatal());
        let report = error.report().to_string();
        assert!(
            report.to_lowercase().contains("refused"),
            "the cause is reported, not only 'cannot connect': {report}"
        );
    }
}

async fn a_url_without_scheme_or_with_another_scheme_fails_at_new_as_a_fatal_invalid_request<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    for url in ["localhost:8080/events", "ftp://x/", "/events", "http://"] {
        let Err(error) = connect(url) else {
            panic!("{url:?} was accepted")
        };
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{url:?}");
        assert!(error.is_fatal(), "{url:?}");
    }
}

async fn a_gzip_body_stops_with_content_encoding_after_asking_for_identity<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    // A valid gzip body whose bytes, read as they are, would give an event.
    let (origin, log) = server(|n, _| match n {
        0 => Reply::status(200)
            .header("content-type", "text/event-stream")
            .header("content-encoding", "gzip")
            .send(gzip_stored(b"\n\ndata: garbage\n\n")),
        _ => Reply::no_content(),
    })
    .await;
    let updates = run(new_client(
        connect,
        &format!("{origin}/events"),
        fast_config(),
    ))
    .await;

    assert_eq!(data(&updates), Vec::<String>::new(), "{updates:?}");
    let (reason, error) = stop(&updates);
    assert_eq!(reason, StopReason::ContentEncoding, "{updates:?}");
    let error = error.expect("an error");
    assert_eq!(error.kind(), ErrorKind::ContentEncoding);
    assert!(error.is_fatal());
    let seen = log.all();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].all("accept-encoding"), ["identity"]);
}

async fn user_accept_and_last_event_id_headers_replace_the_defaults_not_duplicate_them<
    C: Connector + Send + 'static,
>(
    connect: Connect<C>,
) {
    let (origin, log) = server(|n, _| match n {
        0 => Reply::stream("id: 5\ndata: x\n\n"),
        _ => Reply::no_content(),
    })
    .await;
    let client = new_client(connect, &format!("{origin}/events"), fast_config())
        .header("accept", "text/event-stream; q=1")
        .and_then(|c| c.header("last-event-id", "3"))
        .expect("valid headers");
    let updates = run(client).await;

    assert_eq!(data(&updates), ["x"], "{updates:?}");
    let seen = log.all();
    assert_eq!(seen.len(), 2);
    for (n, id) in [(0, "3"), (1, "5")] {
        assert_eq!(
            seen[n].all("accept"),
            ["text/event-stream; q=1"],
            "request {n}"
        );
        assert_eq!(seen[n].all("last-event-id"), [id], "request {n}");
        assert_eq!(seen[n].all("cache-control"), ["no-cache"], "request {n}");
    }
}

/// `Client::get`: the default connector (reqwest's here) and the default
/// config (the server's `retry: 20` is raised to the default `min_retry`).
#[tokio::test]
async fn client_get_reads_the_events_and_events_ends_without_error_on_204() {
    let (origin, log) = server(|n, _| match n {
        0 => Reply::stream("retry: 20\nid: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n"),
        _ => Reply::no_content(),
    })
    .await;
    let client: Client<ReqwestConnector> = Client::get(&format!("{origin}/events")).expect("URL");
    let events: Vec<_> = bounded(client.events().collect()).await;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| e.expect("no error item").data().into_owned())
        .collect();
    assert_eq!(events, ["a", "b", "c"]);
    let ids: Vec<_> = log.all().iter().map(Seen::last_event_id).collect();
    assert_eq!(ids, [None, Some(3)]);
}

/// `data` gzip-compressed with one stored (uncompressed) deflate block
/// (RFC 1952, RFC 1951 section 3.2.4): valid gzip whose payload is
/// readable as it is.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).expect("one stored block");
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.push(1); // BFINAL, BTYPE 00: stored.
    out.extend(len.to_le_bytes());
    out.extend((!len).to_le_bytes());
    out.extend(data);
    out.extend(crc32(data).to_le_bytes());
    out.extend(u32::from(len).to_le_bytes());
    out
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn gzip_stored_writes_the_gzip_header_a_stored_block_and_the_crc() {
    // The check value of CRC-32 (IEEE).
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    let gz = gzip_stored(b"hi");
    assert_eq!(&gz[..3], [0x1f, 0x8b, 8]);
    assert_eq!(&gz[11..15], [2, 0, 0xfd, 0xff]);
    assert_eq!(&gz[15..17], b"hi");
}
