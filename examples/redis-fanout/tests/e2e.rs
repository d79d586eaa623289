//! End to end: Redis, instances of the service, and this project's
//! reconnecting client (`sse_proto::client::Client` over its hyper
//! connector), all on 127.0.0.1.
//!
//! Needs `redis-server` (Debian's `redis-server`), or a server named by
//! `REDIS_URL`, so every test here is `#[ignore]`d: run them with
//! `cargo test -p redis-fanout --test e2e -- --ignored` (`.ci/run` does). Run
//! so, they fail when there is no Redis, saying what to install. Every wait
//! is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis_fanout::local::LocalRedis;
use redis_fanout::{serve, Config, EntryId, Fanout, Mode, ServerConfig, RESET_EVENT};
use sse_proto::client::hyper::HyperConnector;
use sse_proto::client::{Client, Connector, Error as ClientError, Request, Response, Update};
use sse_proto::server::EndAfter;
use sse_proto::session::Config as SessionConfig;

/// The longest any test may take.
const BOUND: Duration = Duration::from_secs(60);

/// A Redis server; the test fails, saying what to install, when there is none.
fn redis() -> LocalRedis {
    LocalRedis::start().unwrap_or_else(|message| panic!("{message}"))
}

/// A stream key of its own for each test, so that tests can share a Redis.
fn key(test: &str) -> String {
    format!("test:{test}:{}", std::process::id())
}

/// One instance of the service, as its own process: killed, it is gone
/// with every connection it held, as a crashed server is.
struct Instance {
    child: Child,
    url: String,
}

impl Instance {
    fn spawn(redis: &str, stream: &str, extra: &[&str]) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_redis-fanout"))
            .args([
                "--redis",
                redis,
                "--listen",
                "127.0.0.1:0",
                "--stream",
                stream,
            ])
            .args(["--retry-ms", "100", "--keep-alive-s", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the redis-fanout binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .expect("the instance says where it listens within 15 s");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Instance { child, url }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A load balancer in the small: tries the instances in turn, starting
/// with the one that answered last, and remembers which one that was.
struct Failover {
    instances: Vec<HyperConnector>,
    current: Arc<AtomicUsize>,
}

impl Failover {
    fn new(urls: &[&str]) -> (Failover, Arc<AtomicUsize>) {
        let current = Arc::new(AtomicUsize::new(0));
        let instances = urls
            .iter()
            .map(|u| HyperConnector::new(&format!("{u}/events")).expect("a URL"))
            .collect();
        (
            Failover {
                instances,
                current: current.clone(),
            },
            current,
        )
    }
}

impl Connector for Failover {
    type Body = <HyperConnector as Connector>::Body;

    async fn connect(&self, request: &Request) -> Result<Response<Self::Body>, ClientError> {
        let n = self.instances.len();
        let start = self.current.load(Ordering::SeqCst);
        let mut last_error = None;
        for i in (0..n).map(|k| (start + k) % n) {
            match self.instances[i].connect(request).await {
                Ok(res) => {
                    self.current.store(i, Ordering::SeqCst);
                    return Ok(res);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("at least one instance"))
    }
}

fn session_config() -> SessionConfig {
    SessionConfig::default()
        .min_retry(Duration::from_millis(100))
        .initial_retry(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(500))
}

/// The (id, data) of events as `first_events` returns them.
fn ids_and_data(events: &[(String, String, String)]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|(_, id, d)| (id.clone(), d.clone()))
        .collect()
}

/// The (id, data) of the events `e{i}` published with `ids`, for `range`.
fn numbered(ids: &[EntryId], range: std::ops::Range<usize>) -> Vec<(String, String)> {
    range
        .map(|i| (ids[i].to_string(), format!("e{i}")))
        .collect()
}

/// Publishes `n` events, one every `every`, straight into Redis; returns
/// their IDs.
async fn publish(redis: String, stream: String, n: usize, every: Duration) -> Vec<String> {
    let client = redis::Client::open(redis).expect("a Redis URL");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let mut ids = Vec::new();
    for i in 0..n {
        let id: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("data")
            .arg(format!("event {i}"))
            .arg("event")
            .arg("tick")
            .query_async(&mut con)
            .await
            .expect("XADD");
        ids.push(id);
        tokio::time::sleep(every).await;
    }
    ids
}

/// What the client saw.
#[derive(Debug, Default)]
struct Seen {
    /// (id, data) of each event.
    events: Vec<(String, String)>,
    /// The instance of the connection each event came on.
    on_instance: Vec<usize>,
    /// The instance of each connection, in order.
    connections: Vec<usize>,
    /// For each reconnect: the Last-Event-ID it sent, and the ID of the
    /// last event received before it.
    resumes: Vec<(Option<String>, Option<String>)>,
    /// Connections opened after the kill.
    after_kill: Vec<usize>,
    /// The instance killed.
    killed: Option<usize>,
}

/// Two instances, one Redis, `n` events published every 5 ms: the client
/// reads from the start (`Last-Event-ID: 0-0`), and the instance it is on
/// is killed once it has `kill_at` events, while events keep coming.
/// Every event must arrive exactly once, in order.
async fn failover(test: &str, extra: &[&str], n: usize, kill_at: usize) -> Seen {
    let redis = redis();
    let stream = key(test);
    let mut instances = [
        Instance::spawn(&redis.url, &stream, extra),
        Instance::spawn(&redis.url, &stream, extra),
    ];
    let urls = [instances[0].url.clone(), instances[1].url.clone()];
    let publisher = tokio::spawn(publish(
        redis.url.clone(),
        stream.clone(),
        n,
        Duration::from_millis(5),
    ));
    let (connector, current) = Failover::new(&[&urls[0], &urls[1]]);
    let updates = Client::new(connector, session_config())
        .with_last_event_id("0-0")
        .updates();
    let mut updates = std::pin::pin!(updates);
    let mut seen = Seen::default();
    let read = async {
        while let Some(update) = updates.next().await {
            match update {
                Update::Event(e) => {
                    assert_eq!(e.event_type(), "tick", "no reset signal: {e:?}");
                    seen.events
                        .push((e.last_event_id().into_owned(), e.data().into_owned()));
                    let on = *seen
                        .connections
                        .last()
                        .expect("an event comes on a connection");
                    seen.on_instance.push(on);
                    if seen.events.len() == kill_at && seen.killed.is_none() {
                        instances[on].kill();
                        seen.killed = Some(on);
                    }
                    if seen.events.len() == n {
                        return;
                    }
                }
                Update::Opened => {
                    let on = current.load(Ordering::SeqCst);
                    seen.connections.push(on);
                    if seen.killed.is_some() {
                        seen.after_kill.push(on);
                    }
                }
                Update::Connecting { last_event_id, .. } => {
                    let received = seen.events.last().map(|(id, _)| id.clone());
                    seen.resumes.push((last_event_id, received));
                }
                Update::Stopped { reason, .. } => panic!("the client stopped: {reason:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(BOUND, read)
        .await
        .unwrap_or_else(|_| panic!("{} of {n} events within {BOUND:?}", seen.events.len()));
    let ids = tokio::time::timeout(BOUND, publisher)
        .await
        .expect("the publisher ends")
        .expect("the publisher succeeds");

    let want: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), format!("event {i}")))
        .collect();
    assert_eq!(
        seen.events, want,
        "every event once, in order, with its entry ID"
    );
    // Each reconnect resumed from the last event received before it (the
    // first connection from 0-0).
    for (i, (sent, received)) in seen.resumes.iter().enumerate() {
        let want = received.clone().unwrap_or_else(|| "0-0".into());
        assert_eq!(sent.as_deref(), Some(want.as_str()), "reconnect {i}");
    }
    // After the kill, every connection and every event was on the other
    // instance, and there were some.
    let killed = seen.killed.expect("the instance was killed");
    assert!(
        !seen.after_kill.is_empty(),
        "the client reconnected after the kill"
    );
    assert!(
        seen.after_kill.iter().all(|&i| i != killed),
        "{:?}",
        seen.after_kill
    );
    // Events already on their way when the kill came may still arrive on
    // the dead connection; from the first reconnect on, all come from the
    // survivor.
    let first_after = seen
        .on_instance
        .iter()
        .skip(kill_at)
        .position(|&i| i != killed)
        .map(|p| p + kill_at)
        .expect("events from the other instance");
    assert!(
        seen.on_instance[first_after..].iter().all(|&i| i != killed),
        "no event from the killed instance after the switch"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn streaming_client_resumes_on_the_other_instance_after_a_kill() {
    let seen = failover("streaming", &[], 300, 100).await;
    assert_eq!(
        seen.connections.len(),
        2,
        "one stream, then one on the other instance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn polling_client_resumes_on_the_other_instance_after_a_kill() {
    // Killed at 110: in the middle of a response of 25 events.
    let seen = failover(
        "polling",
        &["--poll-events", "25", "--poll-seconds", "2"],
        300,
        110,
    )
    .await;
    // Each response ends after at most 25 events: at least 300 / 25.
    assert!(
        seen.connections.len() >= 12,
        "{} connections",
        seen.connections.len()
    );
}

/// An instance in this process, for the tests that look at one response.
async fn in_process(redis: &LocalRedis, config: Config, server: ServerConfig) -> (Fanout, String) {
    let client = redis::Client::open(redis.url.as_str()).expect("a Redis URL");
    let fanout = Fanout::start(client, config).await.expect("Redis answers");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(serve(listener, fanout.clone(), server));
    (fanout, url)
}

/// The first `n` events of one client of `url` that starts from `last_id`.
async fn first_events(url: &str, last_id: Option<&str>, n: usize) -> Vec<(String, String, String)> {
    let connector = HyperConnector::new(&format!("{url}/events")).expect("a URL");
    let mut client = Client::new(connector, session_config());
    if let Some(id) = last_id {
        client = client.with_last_event_id(Bytes::copy_from_slice(id.as_bytes()));
    }
    let events = client
        .events()
        .take(n)
        .map(|e| {
            let e = e.expect("the client does not stop");
            (
                e.event_type().into_owned(),
                e.last_event_id().into_owned(),
                e.data().into_owned(),
            )
        })
        .collect::<Vec<_>>();
    tokio::time::timeout(BOUND, events)
        .await
        .expect("the events within the bound")
}

/// The configuration for `stream` with only `kept_events` entries kept in
/// memory, so that clients further back take the path through Redis.
fn keeping(stream: &str, kept_events: usize) -> Config {
    Config {
        kept_events,
        ..Config::new(stream)
    }
}

/// Publishes `n` events `e0`, `e1`... through `fanout`, then trims the
/// stream to its last `keep` entries; returns the IDs.
async fn publish_then_trim(
    redis: &LocalRedis,
    fanout: &Fanout,
    stream: &str,
    n: usize,
    keep: usize,
) -> Vec<EntryId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(fanout.publish(None, &format!("e{i}")).await.expect("XADD"));
    }
    let client = redis::Client::open(redis.url.as_str()).expect("URL");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let _: u64 = redis::cmd("XTRIM")
        .arg(stream)
        .arg("MAXLEN")
        .arg(keep)
        .query_async(&mut con)
        .await
        .expect("XTRIM");
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn a_trimmed_id_gets_the_reset_signal_then_what_is_left() {
    let redis = redis();
    let stream = key("trimmed");
    // Two entries kept in memory: the client's ID is resumed from Redis.
    let config = keeping(&stream, 2);
    let (fanout, url) = in_process(&redis, config, ServerConfig::default()).await;
    let ids = publish_then_trim(&redis, &fanout, &stream, 10, 3).await;

    // Read up to e1; e2 to e6 are gone.
    let got = first_events(&url, Some(&ids[1].to_string()), 4).await;
    let (ty, id, data) = &got[0];
    assert_eq!(
        (ty.as_str(), id.as_str()),
        (RESET_EVENT, ids[7].pred().to_string().as_str()),
        "the signal's id is just before the oldest entry kept"
    );
    let signal: serde_json::Value = serde_json::from_str(data).expect("JSON data");
    assert_eq!(signal["reason"], "trimmed");
    assert_eq!(signal["last_event_id"], ids[1].to_string());
    let rest = ids_and_data(&got[1..]);
    let want = numbered(&ids, 7..10);
    assert_eq!(rest, want);

    // An ID still in the stream resumes exactly, with no signal.
    let got = first_events(&url, Some(&ids[7].to_string()), 2).await;
    assert_eq!(got[0], ("message".into(), ids[8].to_string(), "e8".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn an_entry_whose_event_type_cannot_be_sent_is_skipped_live_and_from_redis() {
    let redis = redis();
    let stream = key("poison");
    // One entry kept in memory: the resuming client reads from Redis.
    let config = keeping(&stream, 1);
    let (fanout, url) = in_process(&redis, config, ServerConfig::default()).await;
    let live = {
        let url = url.clone();
        tokio::spawn(async move { first_events(&url, None, 2).await })
    };
    let subscribed = async {
        while fanout.live_clients() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(BOUND, subscribed)
        .await
        .expect("the live client subscribes");
    let client = redis::Client::open(redis.url.as_str()).expect("URL");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let mut ids = Vec::new();
    for (event, data) in [("ok", "a"), ("bad\ntype", "b"), ("ok", "c")] {
        let id: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("data")
            .arg(data)
            .arg("event")
            .arg(event)
            .query_async(&mut con)
            .await
            .expect("XADD");
        ids.push(id);
    }
    let want = vec![
        ("ok".to_string(), ids[0].clone(), "a".to_string()),
        ("ok".to_string(), ids[2].clone(), "c".to_string()),
    ];
    let got = tokio::time::timeout(BOUND, live)
        .await
        .expect("within the bound")
        .expect("the live client");
    assert_eq!(got, want, "live");
    let got = first_events(&url, Some("0-0"), 2).await;
    assert_eq!(got, want, "from Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn an_id_the_instance_still_holds_resumes_from_memory_what_redis_trimmed() {
    let redis = redis();
    let stream = key("kept");
    let (fanout, url) = in_process(&redis, Config::new(&stream), ServerConfig::default()).await;
    let ids = publish_then_trim(&redis, &fanout, &stream, 10, 3).await;
    let read = async {
        while fanout.read_up_to() < ids[9] {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(BOUND, read)
        .await
        .expect("the reader reads the 10 entries");
    // Redis kept e7 to e9; the instance kept all ten, and loses nothing.
    let got = first_events(&url, Some(&ids[1].to_string()), 8).await;
    assert_eq!(ids_and_data(&got), numbered(&ids, 2..10));
    assert!(got.iter().all(|(ty, _, _)| ty == "message"), "no signal");
    assert_eq!(fanout.catch_ups(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn an_unknown_id_gets_the_reset_signal_then_everything() {
    let redis = redis();
    let stream = key("unknown");
    let (fanout, url) = in_process(&redis, Config::new(&stream), ServerConfig::default()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            fanout
                .publish(Some("t"), &format!("e{i}"))
                .await
                .expect("XADD"),
        );
    }
    let future = EntryId {
        ms: ids[2].ms + 1_000_000,
        seq: 0,
    }
    .to_string();
    for sent in ["not-an-id", future.as_str()] {
        let got = first_events(&url, Some(sent), 4).await;
        assert_eq!(got[0].0, RESET_EVENT, "{sent}");
        let signal: serde_json::Value = serde_json::from_str(&got[0].2).expect("JSON");
        assert_eq!(signal["reason"], "unknown", "{sent}");
        let rest = ids_and_data(&got[1..]);
        let want = numbered(&ids, 0..3);
        assert_eq!(rest, want, "{sent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn a_client_that_lags_behind_the_live_feed_loses_nothing() {
    let redis = redis();
    let stream = key("lag");
    // Two entries kept in memory: a slow client is soon behind, and must
    // catch up from Redis.
    let config = Config {
        batch: 8,
        ..keeping(&stream, 2)
    };
    let (fanout, url) = in_process(&redis, config, ServerConfig::default()).await;
    let connector = HyperConnector::new(&format!("{url}/events")).expect("a URL");
    let events = Client::new(connector, session_config())
        .with_last_event_id("0-0")
        .events();
    let n = 400;
    // 16 KiB a payload: 6.4 MB in all, more than the socket buffers hold,
    // so the slow reader does hold the server back.
    let pad = "x".repeat(16 * 1024);
    let publisher = {
        let fanout = fanout.clone();
        let pad = pad.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..n {
                ids.push(
                    fanout
                        .publish(None, &format!("e{i} {pad}"))
                        .await
                        .expect("XADD"),
                );
            }
            ids
        })
    };
    let read = events
        .take(n)
        .then(|e| async move {
            let e = e.expect("the client does not stop");
            // Slow: two milliseconds an event.
            tokio::time::sleep(Duration::from_millis(2)).await;
            (e.last_event_id().into_owned(), e.data().into_owned())
        })
        .collect::<Vec<_>>();
    let got = tokio::time::timeout(BOUND, read)
        .await
        .expect("within the bound");
    let ids = publisher.await.expect("published");
    let want: Vec<_> = (0..n)
        .map(|i| (ids[i].to_string(), format!("e{i} {pad}")))
        .collect();
    assert!(got == want, "events lost, repeated or out of order");
    assert!(
        fanout.catch_ups() > 0,
        "the client fell behind what the instance keeps at least once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn auto_mode_streams_up_to_the_limit_and_polls_beyond_it() {
    let redis = redis();
    let stream = key("auto");
    let server = ServerConfig {
        mode: Mode::Auto {
            max_streaming: 1,
            polling: EndAfter::events(2).retry(Duration::from_millis(100)),
        },
        keep_alive: None,
        ..ServerConfig::default()
    };
    let (fanout, url) = in_process(&redis, Config::new(&stream), server).await;
    for i in 0..6 {
        fanout.publish(None, &format!("e{i}")).await.expect("XADD");
    }
    // The first client takes the one streaming place and keeps it.
    let first = HyperConnector::new(&format!("{url}/events")).expect("a URL");
    let first = Client::new(first, session_config())
        .with_last_event_id("0-0")
        .updates();
    let mut first = Box::pin(first);
    let opened = async {
        loop {
            if let Some(Update::Opened) = first.next().await {
                return;
            }
        }
    };
    tokio::time::timeout(BOUND, opened).await.expect("opened");
    // The second polls: its responses end after two events each.
    let second = HyperConnector::new(&format!("{url}/events")).expect("a URL");
    let second = Client::new(second, session_config())
        .with_last_event_id("0-0")
        .updates();
    let mut second = Box::pin(second);
    let (mut events, mut ends) = (0, 0);
    let read = async {
        while events < 6 {
            match second.next().await {
                Some(Update::Event(_)) => events += 1,
                Some(Update::Disconnected { .. }) => ends += 1,
                Some(Update::Stopped { reason, .. }) => panic!("stopped: {reason:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(BOUND, read).await.expect("six events");
    assert_eq!(
        ends, 2,
        "the second client's responses ended after 2 and 4 events"
    );
    // The first is still on its one stream, all six events read.
    let mut first_events = 0;
    let drain = async {
        while first_events < 6 {
            match first.next().await {
                Some(Update::Event(_)) => first_events += 1,
                Some(Update::Disconnected { .. }) => panic!("the streaming client was cut"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(BOUND, drain)
        .await
        .expect("six events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server (Debian package redis-server) or REDIS_URL; CI runs it with --ignored"]
async fn a_polling_client_moves_past_the_reset_signal() {
    let redis = redis();
    let stream = key("poll-reset");
    // One event a response: the reset signal fills the first one alone.
    let server = ServerConfig {
        mode: Mode::Polling(EndAfter::events(1).retry(Duration::from_millis(100))),
        keep_alive: None,
        ..ServerConfig::default()
    };
    let config = keeping(&stream, 1);
    let (fanout, url) = in_process(&redis, config, server).await;
    let ids = publish_then_trim(&redis, &fanout, &stream, 5, 2).await;
    let got = first_events(&url, Some(&ids[0].to_string()), 3).await;
    assert_eq!(got[0].0, RESET_EVENT);
    assert_eq!(
        got[0].1,
        ids[3].pred().to_string(),
        "the signal's id: just before e3"
    );
    let rest = ids_and_data(&got[1..]);
    let want = numbered(&ids, 3..5);
    assert_eq!(
        rest, want,
        "one reset, then the kept events, one a response"
    );
}
