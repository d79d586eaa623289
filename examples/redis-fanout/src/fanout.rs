//! One Redis reader per instance, fanned out to every SSE client of it, and
//! the catch-up from `Last-Event-ID` that makes a client's stream resumable
//! on any instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, RedisResult, Value};
use sse_proto::ServerEvent;
use tokio::sync::{broadcast, mpsc};
use tokio::task::AbortHandle;

use crate::id::EntryId;

/// The event type of the signal sent to a client whose `Last-Event-ID`
/// cannot be resumed exactly; see [`Fanout::subscribe`].
pub const RESET_EVENT: &str = "reset";

/// How an instance reads the stream.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Redis stream's key.
    pub stream: String,
    /// Entries read per `XREAD` / `XRANGE` call.
    pub batch: usize,
    /// How long one `XREAD BLOCK` waits (the reader then asks again).
    pub block: Duration,
    /// Batches of live entries kept for clients that are behind. A client
    /// further behind catches up from Redis, losing nothing.
    pub live_capacity: usize,
    /// Events queued for one client before the fan-out waits for it.
    pub client_queue: usize,
    /// The `retry` sent at the start of each connection, if any.
    pub retry: Option<Duration>,
    /// `XADD ... MAXLEN ~ n` on publish: the entries Redis keeps, roughly.
    pub max_len: Option<usize>,
    /// How long the fan-out waits for a client that reads nothing before
    /// it ends that client's stream (the client, if alive, reconnects and
    /// resumes).
    pub send_timeout: Duration,
}

impl Config {
    /// Defaults for the stream `stream`: batches of 256, 1 s blocks, 1,024
    /// live batches (so up to 262,144 entries held in memory for clients
    /// that are behind), 64 queued events a client, `retry: 1000`, about
    /// 100,000 entries kept, 30 s for a client that reads nothing.
    pub fn new(stream: impl Into<String>) -> Self {
        Config {
            stream: stream.into(),
            batch: 256,
            block: Duration::from_secs(1),
            live_capacity: 1024,
            client_queue: 64,
            retry: Some(Duration::from_secs(1)),
            max_len: Some(100_000),
            send_timeout: Duration::from_secs(30),
        }
    }
}

/// One stream entry: the fields `data` and, optionally, `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry ID, sent as the SSE `id`.
    pub id: EntryId,
    /// The `event` field, sent as the SSE event type.
    pub event: Option<String>,
    /// The `data` field (empty when missing).
    pub data: String,
}

impl Entry {
    fn from_redis(raw: &StreamId) -> Option<Entry> {
        Some(Entry {
            id: raw.id.parse().ok()?,
            event: raw.get::<String>("event"),
            data: raw.get::<String>("data").unwrap_or_default(),
        })
    }

    /// The entry as an SSE event.
    pub fn to_event(&self) -> ServerEvent {
        let event = ServerEvent::new()
            .id(self.id.to_string())
            .data(self.data.as_str());
        match &self.event {
            Some(t) => event.event(t.as_str()),
            None => event,
        }
    }
}

/// What `XINFO STREAM` says about where the stream stands.
#[derive(Debug, Clone, Copy, Default)]
struct StreamState {
    /// The ID of the last entry ever added (trimmed or not).
    last_generated: EntryId,
    /// The oldest entry kept, if any.
    first: Option<EntryId>,
    /// Whether any entry was ever removed (trimmed or deleted).
    removed: bool,
}

impl StreamState {
    /// The position just before the oldest entry kept (the end, when none
    /// is kept): what follows it is all that Redis still has.
    fn resume_point(&self) -> EntryId {
        match self.first {
            Some(first) => first.pred(),
            None => self.last_generated,
        }
    }

    /// Whether an entry after `id` may have been removed before a client
    /// that has read up to `id` saw it.
    ///
    /// Trimming removes the oldest entries, so when `id` is before the
    /// [`resume_point`](Self::resume_point), entries after it may be gone.
    /// Redis cannot say whether the entry right after `id` was the oldest
    /// kept, in which case nothing was lost: that one case gets a needless
    /// reset, never a silent loss. Entries removed one by one with `XDEL`
    /// from the middle of the stream are deliberate deletions, not a gap in
    /// what Redis keeps, and are not signalled.
    fn lost_after(&self, id: EntryId) -> bool {
        self.removed && id < self.resume_point()
    }
}

/// What the reader hands each connection.
#[derive(Debug, Clone)]
enum Live {
    /// The entries of one `XREAD`.
    Entries(Arc<[Entry]>),
    /// The reader found that entries were trimmed before it read them:
    /// each connection catches up from Redis on its own, which signals the
    /// gap if it lost anything.
    Gap,
}

/// The fan-out of one instance: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct Fanout {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// For `XRANGE`, `XINFO` and `XADD`; the reader has its own.
    con: MultiplexedConnection,
    live: broadcast::Sender<Live>,
    reader: AbortHandle,
    /// How many times a connection fell behind the live window and caught
    /// up from Redis.
    catch_ups: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A connection whose replies may take up to `timeout`.
async fn connect(client: &redis::Client, timeout: Duration) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

impl Fanout {
    /// Connects to Redis and starts the instance's reader, which follows
    /// the stream from its current end.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn start(client: redis::Client, mut config: Config) -> RedisResult<Fanout> {
        config.batch = config.batch.max(1);
        let mut con = connect(&client, Duration::from_secs(5)).await?;
        require_redis_7(&mut con).await?;
        let from = stream_state(&mut con, &config.stream).await?.last_generated;
        let (live, _) = broadcast::channel(config.live_capacity.max(1));
        let reader = tokio::spawn(read_loop(client, config.clone(), live.clone(), from));
        Ok(Fanout {
            inner: Arc::new(Inner {
                config,
                con,
                live,
                reader: reader.abort_handle(),
                catch_ups: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// How many times a connection fell behind the live window (or the
    /// reader found a gap) and caught up from Redis.
    pub fn catch_ups(&self) -> u64 {
        self.inner.catch_ups.load(Ordering::Relaxed)
    }

    /// Adds an entry to the stream (`XADD`) and returns its ID.
    ///
    /// # Errors
    ///
    /// Redis's.
    pub async fn publish(&self, event: Option<&str>, data: &str) -> RedisResult<EntryId> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.inner.config.stream);
        if let Some(n) = self.inner.config.max_len {
            cmd.arg("MAXLEN").arg("~").arg(n);
        }
        cmd.arg("*").arg("data").arg(data);
        if let Some(t) = event {
            cmd.arg("event").arg(t);
        }
        let id: String = cmd.query_async(&mut self.inner.con.clone()).await?;
        id.parse().map_err(|e: crate::id::BadEntryId| {
            redis::RedisError::from((
                redis::ErrorKind::Parse,
                "XADD returned an ID that is not <ms>-<seq>",
                e.to_string(),
            ))
        })
    }

    /// The events for one SSE connection, from just after `last_event_id`
    /// (the request's `Last-Event-ID`), or from now on when there is none.
    ///
    /// When the ID cannot be resumed exactly, the first event is the
    /// signal `event: reset`, with JSON data
    /// `{"reason": R, "last_event_id": "<the ID>"}`, and then every entry
    /// Redis still has, from the oldest:
    ///
    /// - `R = "trimmed"`: entries after the ID were trimmed from the
    ///   stream; the ones Redis no longer has are lost to this client, which
    ///   should reload its state.
    /// - `R = "unknown"`: the ID is not an entry ID, or is past the end of
    ///   the stream (the stream was deleted and made again).
    ///
    /// The signal's own `id` is the position just before the oldest entry
    /// kept, so that a client that reconnects right after it (a polling
    /// response may end there) resumes from there, not from the lost ID.
    /// The same signal comes mid-stream when a client falls so far behind
    /// that entries it has not been sent are trimmed before it reads them.
    ///
    /// The stream ends when a catch-up from Redis fails, or when the client
    /// has read nothing for [`Config::send_timeout`]; the client then
    /// reconnects with its last ID, to this instance or another, and loses
    /// nothing. While Redis is away, a client already on the live feed just
    /// waits (with keep-alives) for the reader to reconnect.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let (tx, rx) = mpsc::channel(self.inner.config.client_queue.max(1));
        // Subscribe before reading where the stream stands, so that every
        // entry added after that reading also comes through `live`.
        let live = self.inner.live.subscribe();
        let fanout = self.clone();
        let last_event_id = last_event_id.map(str::to_owned);
        let task = tokio::spawn(async move {
            if let Err(e) = fanout.feed(last_event_id, live, &tx).await {
                eprintln!("redis-fanout: a client's stream ends: {e}");
            }
        });
        Subscription {
            events: rx,
            task: task.abort_handle(),
        }
    }

    /// Sends one client its events until it goes away or Redis fails.
    async fn feed(
        &self,
        last_event_id: Option<String>,
        mut live: broadcast::Receiver<Live>,
        tx: &mpsc::Sender<ServerEvent>,
    ) -> RedisResult<()> {
        let config = &self.inner.config;
        let send = |event: ServerEvent| async move {
            // A client that reads nothing for this long is let go.
            matches!(
                tokio::time::timeout(config.send_timeout, tx.send(event)).await,
                Ok(Ok(()))
            )
        };
        if let Some(retry) = config.retry {
            if !send(ServerEvent::new().retry(retry)).await {
                return Ok(());
            }
        }
        let mut con = self.inner.con.clone();
        let state = stream_state(&mut con, &config.stream).await?;
        let mut last = match last_event_id {
            None => state.last_generated,
            Some(sent) => match sent.parse::<EntryId>() {
                // Whether entries after it were trimmed is checked with each
                // page of the catch-up.
                Ok(id) if id <= state.last_generated => id,
                _ => {
                    let from = state.resume_point();
                    if !send(reset_event("unknown", &sent, from)).await {
                        return Ok(());
                    }
                    from
                }
            },
        };
        let Some(caught_up) = self.catch_up(&mut con, last, &send).await? else {
            return Ok(());
        };
        last = caught_up;
        loop {
            let item = tokio::select! {
                () = tx.closed() => return Ok(()),
                item = live.recv() => item,
            };
            match item {
                Ok(Live::Entries(batch)) => {
                    for entry in batch.iter() {
                        if entry.id <= last {
                            continue; // sent already, by the catch-up
                        }
                        if !send(entry.to_event()).await {
                            return Ok(());
                        }
                        last = entry.id;
                    }
                }
                Ok(Live::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Behind the live window: read the rest from Redis.
                    self.inner.catch_ups.fetch_add(1, Ordering::Relaxed);
                    match self.catch_up(&mut con, last, &send).await? {
                        Some(l) => last = l,
                        None => return Ok(()),
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Sends every entry after `after` that Redis has, page by page, and
    /// returns the last ID sent (`None` when the client went away). Each
    /// page is read in one transaction with `XINFO STREAM`, so that a trim
    /// that passes the cursor between pages is seen and signalled.
    async fn catch_up<F, Fut>(
        &self,
        con: &mut MultiplexedConnection,
        after: EntryId,
        send: &F,
    ) -> RedisResult<Option<EntryId>>
    where
        F: Fn(ServerEvent) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let config = &self.inner.config;
        let mut last = after;
        loop {
            let (state, page) = state_and_page(con, &config.stream, last, config.batch).await?;
            if state.lost_after(last) {
                let from = state.resume_point();
                if !send(reset_event("trimmed", &last.to_string(), from)).await {
                    return Ok(None);
                }
                // The page starts after `last`, so at the oldest entry kept:
                // just after `from`.
                last = from;
            }
            let n = page.ids.len();
            for raw in &page.ids {
                let Some(entry) = Entry::from_redis(raw) else {
                    continue;
                };
                if entry.id <= last {
                    continue;
                }
                if !send(entry.to_event()).await {
                    return Ok(None);
                }
                last = entry.id;
            }
            if n < config.batch {
                return Ok(Some(last));
            }
            // Go on after the page, even past entries that did not parse.
            if let Some(id) = page.ids.last().and_then(|raw| raw.id.parse().ok()) {
                last = last.max(id);
            }
        }
    }
}

/// The signal of [`Fanout::subscribe`].
fn reset_event(reason: &str, last_event_id: &str, from: EntryId) -> ServerEvent {
    let data = serde_json::json!({ "reason": reason, "last_event_id": last_event_id });
    ServerEvent::new()
        .event(RESET_EVENT)
        .id(from.to_string())
        .data(data.to_string())
}

/// Fails unless the server is Redis 7 or later, whose `XINFO STREAM` says
/// what trimming has removed.
async fn require_redis_7(con: &mut MultiplexedConnection) -> RedisResult<()> {
    let info: String = redis::cmd("INFO").arg("server").query_async(con).await?;
    let major = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.trim().parse::<u32>().ok());
    match major {
        Some(m) if m >= 7 => Ok(()),
        _ => Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "redis-fanout needs Redis 7 or later (XINFO STREAM must report entries-added)",
            format!("INFO server says redis_version {major:?}"),
        ))),
    }
}

/// Reads a `XINFO STREAM` reply.
fn parse_state(info: &HashMap<String, Value>) -> StreamState {
    let id = |name: &str| -> Option<EntryId> {
        info.get(name)
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .and_then(|s| s.parse().ok())
    };
    let number = |name: &str| -> u64 {
        info.get(name)
            .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
            .unwrap_or(0)
    };
    let length = number("length");
    StreamState {
        last_generated: id("last-generated-id").unwrap_or_default(),
        first: id("recorded-first-entry-id").filter(|_| length > 0),
        removed: number("entries-added") > length,
    }
}

fn no_such_key(e: &redis::RedisError) -> bool {
    e.to_string().contains("no such key")
}

/// `XINFO STREAM`, or an empty state when the stream does not exist yet.
async fn stream_state(con: &mut MultiplexedConnection, stream: &str) -> RedisResult<StreamState> {
    let reply: RedisResult<HashMap<String, Value>> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async(con)
        .await;
    match reply {
        Ok(info) => Ok(parse_state(&info)),
        Err(e) if no_such_key(&e) => Ok(StreamState::default()),
        Err(e) => Err(e),
    }
}

/// `XINFO STREAM` and one page of `XRANGE` after `after`, in one
/// transaction: the state is that of the moment the page was read.
async fn state_and_page(
    con: &mut MultiplexedConnection,
    stream: &str,
    after: EntryId,
    count: usize,
) -> RedisResult<(StreamState, StreamRangeReply)> {
    let reply: RedisResult<(HashMap<String, Value>, StreamRangeReply)> = redis::pipe()
        .atomic()
        .cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .cmd("XRANGE")
        .arg(stream)
        .arg(format!("({after}"))
        .arg("+")
        .arg("COUNT")
        .arg(count)
        .query_async(con)
        .await;
    match reply {
        Ok((info, page)) => Ok((parse_state(&info), page)),
        // No stream yet: nothing to read.
        Err(e) if no_such_key(&e) => Ok((StreamState::default(), StreamRangeReply::default())),
        Err(e) => Err(e),
    }
}

/// The instance's one reader: `XREAD BLOCK` from the last entry read, each
/// batch sent to every connection. Reconnects on failure, from where it
/// stopped.
async fn read_loop(
    client: redis::Client,
    config: Config,
    live: broadcast::Sender<Live>,
    mut last: EntryId,
) {
    let mut con = None;
    // Whether the reader may have been passed by a trim: after a reconnect,
    // and after a full batch (it is behind).
    let mut check = false;
    loop {
        let c = match &mut con {
            Some(c) => c,
            None => match connect(&client, config.block + Duration::from_secs(5)).await {
                Ok(c) => {
                    check = true;
                    con.insert(c)
                }
                Err(e) => {
                    eprintln!("redis-fanout: reader cannot connect: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        if check {
            match stream_state(c, &config.stream).await {
                Ok(state) if state.lost_after(last) => {
                    let _ = live.send(Live::Gap);
                    last = state.resume_point();
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("redis-fanout: reader: {e}");
                    con = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
            check = false;
        }
        let reply: RedisResult<Option<StreamReadReply>> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(config.batch)
            .arg("BLOCK")
            .arg(config.block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&config.stream)
            .arg(last.to_string())
            .query_async(c)
            .await;
        match reply {
            Ok(Some(reply)) => {
                let raw: Vec<&StreamId> = reply.keys.iter().flat_map(|k| k.ids.iter()).collect();
                check = raw.len() >= config.batch;
                let entries: Vec<Entry> = raw.iter().filter_map(|r| Entry::from_redis(r)).collect();
                // Go on after the batch, even past entries that did not parse.
                if let Some(id) = raw.last().and_then(|r| r.id.parse().ok()) {
                    last = last.max(id);
                }
                if !entries.is_empty() {
                    // No receivers is fine: no client right now.
                    let _ = live.send(Live::Entries(entries.into()));
                }
            }
            Ok(None) => {} // BLOCK timed out: nothing new
            Err(e) => {
                eprintln!("redis-fanout: reader: {e}");
                con = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The events of one SSE connection: a `Stream` for
/// [`SseBody`](sse_proto::adapter::body::SseBody). Dropping it stops the
/// task that feeds it.
pub struct Subscription {
    events: mpsc::Receiver<ServerEvent>,
    task: AbortHandle,
}

impl Stream for Subscription {
    type Item = ServerEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<ServerEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}
