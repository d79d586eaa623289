//! One Redis reader per instance, fanned out to every SSE client of it, and
//! the catch-up from `Last-Event-ID` that makes a client's stream resumable
//! on any instance.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, RedisResult, Value};
use sse_proto::server::{self as hub, Encoded, HubConfig, KeyedHub, Resume};
use sse_proto::ServerEvent;
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
    /// The last entries kept in memory, for clients that resume or fall
    /// behind; a client further back catches up from Redis, losing
    /// nothing.
    pub kept_events: usize,
    /// The most bytes of encoded entries kept in memory (the newest is kept
    /// whatever its size).
    pub kept_bytes: usize,
    /// The `retry` sent at the start of each connection, if any.
    pub retry: Option<Duration>,
    /// `XADD ... MAXLEN ~ n` on publish: the entries Redis keeps, roughly.
    pub max_len: Option<usize>,
}

impl Config {
    /// Defaults for the stream `stream`: batches of 256, 1 s blocks, the
    /// last 4,096 entries (at most 4 MiB) kept in memory, `retry: 1000`,
    /// about 100,000 entries kept by Redis.
    pub fn new(stream: impl Into<String>) -> Self {
        Config {
            stream: stream.into(),
            batch: 256,
            block: Duration::from_secs(1),
            kept_events: 4096,
            kept_bytes: 4 << 20,
            retry: Some(Duration::from_secs(1)),
            max_len: Some(100_000),
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

    /// The entry encoded once, to send to every client; `None` (and a
    /// line on stderr) when the encoder refuses its event type.
    pub fn encode(&self) -> Option<Encoded> {
        encode(&self.to_event())
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

/// The fan-out of one instance: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct Fanout {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// For `XRANGE`, `XINFO` and `XADD`; the reader has its own.
    con: MultiplexedConnection,
    /// The live entries, and the last [`Config::kept_events`] of them.
    hub: KeyedHub,
    reader: AbortHandle,
    /// How many times a connection fell behind what the hub keeps and
    /// caught up from Redis.
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
        let hub = KeyedHub::new(
            HubConfig::default()
                .max_events(config.kept_events)
                .max_bytes(config.kept_bytes),
        );
        // Before any client: every entry after `from` is published to it.
        hub.follow(&config.stream, from.position());
        let reader = tokio::spawn(read_loop(client, config.clone(), hub.clone(), from));
        Ok(Fanout {
            inner: Arc::new(Inner {
                config,
                con,
                hub,
                reader: reader.abort_handle(),
                catch_ups: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// How many times a connection fell behind what the instance keeps in
    /// memory (or the reader found a gap) and caught up from Redis.
    pub fn catch_ups(&self) -> u64 {
        self.inner.catch_ups.load(Ordering::Relaxed)
    }

    /// The ID of the last entry this instance has read from Redis and sent
    /// to its clients (or where it started reading).
    pub fn read_up_to(&self) -> EntryId {
        EntryId::from_position(self.inner.hub.position(&self.inner.config.stream))
    }

    /// How many connections are fed from memory (the others are catching
    /// up from Redis, or starting).
    pub fn live_clients(&self) -> usize {
        self.inner.hub.subscribers(&self.inner.config.stream)
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
    /// A client whose ID is among the last [`Config::kept_events`] entries
    /// is resumed from memory; one further back is caught up from Redis
    /// first, and so is a client that falls that far behind while
    /// connected.
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
    /// An entry whose event type the encoder refuses (written into Redis by
    /// another program) is skipped, by every instance alike.
    ///
    /// The stream ends when a catch-up from Redis fails; the client then
    /// reconnects with its last ID, to this instance or another, and loses
    /// nothing. While Redis is away, a client already on the live feed just
    /// waits (with keep-alives) for the reader to reconnect. A client that
    /// reads nothing is the server's to drop (`ServerConfig::write_timeout`).
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let mut ready = VecDeque::new();
        if let Some(retry) = self.inner.config.retry {
            ready.extend(encode(&ServerEvent::new().retry(retry)));
        }
        let fanout = self.clone();
        let last_event_id = last_event_id.map(str::to_owned);
        Subscription {
            fanout: self.clone(),
            ready,
            live: None,
            work: Some(Box::pin(fanout.start_feed(last_event_id))),
        }
    }

    /// Where a new connection starts: from memory when the hub holds
    /// everything after its ID, else from Redis.
    async fn start_feed(self, last_event_id: Option<String>) -> RedisResult<Step> {
        let hub = &self.inner.hub;
        let stream = &self.inner.config.stream;
        let Some(sent) = last_event_id else {
            return Ok(Step::live(hub.subscribe(stream, None)));
        };
        let parsed = sent.parse::<EntryId>().ok();
        if let Some(id) = parsed.filter(|id| id.position() <= hub.position(stream)) {
            let sub = hub.subscribe(stream, Some(id.position()));
            if sub.outcome() != Resume::Behind {
                return Ok(Step::live(sub));
            }
            return self.catch_up(id, Vec::new()).await;
        }
        // Not an ID, or one the reader has not seen yet: ask Redis.
        let state = stream_state(&mut self.inner.con.clone(), stream).await?;
        match parsed {
            Some(id) if id <= state.last_generated => self.catch_up(id, Vec::new()).await,
            _ => {
                let from = state.resume_point();
                let reset = encode(&reset_event("unknown", &sent, from));
                self.catch_up(from, reset.into_iter().collect()).await
            }
        }
    }

    /// Reads one page of entries after `after` from Redis (with the check
    /// that none after it were trimmed, in the same transaction), after
    /// the events in `events`; then, when the page was the last, joins the
    /// hub after the last entry read.
    async fn catch_up(&self, after: EntryId, mut events: Vec<Encoded>) -> RedisResult<Step> {
        let config = &self.inner.config;
        let mut con = self.inner.con.clone();
        let mut last = after;
        let (state, page) = state_and_page(&mut con, &config.stream, last, config.batch).await?;
        if state.lost_after(last) {
            let from = state.resume_point();
            events.extend(encode(&reset_event("trimmed", &last.to_string(), from)));
            // The page starts after `last`, so at the oldest entry kept:
            // just after `from`.
            last = from;
        }
        for raw in &page.ids {
            if let Some(entry) = Entry::from_redis(raw).filter(|e| e.id > last) {
                events.extend(entry.encode());
                last = entry.id;
            }
        }
        // Go on after the page, even past entries that did not parse.
        if let Some(id) = page.ids.last().and_then(|raw| raw.id.parse().ok()) {
            last = last.max(id);
        }
        if page.ids.len() >= config.batch {
            return Ok(Step::more(events, last));
        }
        let sub = self
            .inner
            .hub
            .subscribe(&config.stream, Some(last.position()));
        if sub.outcome() == Resume::Behind {
            // The hub moved on past `last` meanwhile (or found a gap):
            // read on from Redis, after a pause if there was nothing new.
            if page.ids.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return Ok(Step::more(events, last));
        }
        Ok(Step {
            events,
            next: Next::Live(sub),
        })
    }
}

/// What one step of a connection's catch-up made.
struct Step {
    /// The events to send, in order.
    events: Vec<Encoded>,
    next: Next,
}

enum Next {
    /// Go on from the hub.
    Live(hub::Subscription),
    /// Read on from Redis after this ID.
    More(EntryId),
}

impl Step {
    fn live(sub: hub::Subscription) -> Step {
        Step {
            events: Vec::new(),
            next: Next::Live(sub),
        }
    }

    fn more(events: Vec<Encoded>, after: EntryId) -> Step {
        Step {
            events,
            next: Next::More(after),
        }
    }
}

/// Encodes an event, or says why it is skipped.
fn encode(event: &ServerEvent) -> Option<Encoded> {
    match Encoded::new(event) {
        Ok(encoded) => Some(encoded),
        Err(e) => {
            eprintln!("redis-fanout: an entry is skipped: {e}");
            None
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
/// entry published to the hub. Reconnects on failure, from where it
/// stopped.
async fn read_loop(client: redis::Client, config: Config, hub: KeyedHub, mut last: EntryId) {
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
                    // Entries were trimmed before the reader read them:
                    // every connection catches up from Redis on its own,
                    // which signals the gap to those that lost anything.
                    last = state.resume_point();
                    hub.follow(&config.stream, last.position());
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
                for entry in raw.iter().filter_map(|r| Entry::from_redis(r)) {
                    if let Some(event) = entry.encode() {
                        hub.publish_encoded(&config.stream, entry.id.position(), event);
                    }
                }
                // Go on after the batch, even past entries that did not parse.
                if let Some(id) = raw.last().and_then(|r| r.id.parse().ok()) {
                    last = last.max(id);
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
/// [`SseBody`](sse_proto::adapter::body::SseBody), from Redis while it
/// catches up and from the instance's hub after that.
pub struct Subscription {
    fanout: Fanout,
    /// Events read from Redis, not sent yet.
    ready: VecDeque<Encoded>,
    /// The hub's subscription, once caught up.
    live: Option<hub::Subscription>,
    /// The catch-up step under way.
    work: Option<Work>,
}

type Work = Pin<Box<dyn Future<Output = RedisResult<Step>> + Send>>;

impl Subscription {
    /// The next page from Redis, after `after`.
    fn catch_up(&mut self, after: EntryId) {
        let fanout = self.fanout.clone();
        self.work = Some(Box::pin(
            async move { fanout.catch_up(after, Vec::new()).await },
        ));
    }
}

impl Stream for Subscription {
    type Item = Encoded;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Encoded>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(event));
            }
            if let Some(live) = &mut this.live {
                match Pin::new(&mut *live).poll_next(cx) {
                    Poll::Ready(Some(event)) => return Poll::Ready(Some(event)),
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => {
                        // Closed (the instance is going away), or behind
                        // what the hub keeps: catch up from Redis.
                        let Some(after) = live.behind() else {
                            return Poll::Ready(None);
                        };
                        this.live = None;
                        this.fanout.inner.catch_ups.fetch_add(1, Ordering::Relaxed);
                        this.catch_up(EntryId::from_position(after));
                    }
                }
            }
            let Some(work) = &mut this.work else {
                return Poll::Ready(None);
            };
            match work.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    eprintln!("redis-fanout: a client's stream ends: {e}");
                    this.work = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(step)) => {
                    this.work = None;
                    this.ready.extend(step.events);
                    match step.next {
                        Next::Live(sub) => this.live = Some(sub),
                        Next::More(after) => this.catch_up(after),
                    }
                }
            }
        }
    }
}
