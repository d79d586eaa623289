//! One Redis reader per instance, fanned out to every SSE client of it, and
//! the catch-up from `Last-Event-ID` that makes a client's stream resumable
//! on any instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, RedisResult, Value};
use sse_core::ServerEvent;
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
}

impl Config {
    /// Defaults for the stream `stream`: batches of 256, 1 s blocks, 1,024
    /// live batches, 64 queued events a client, `retry: 1000`, about
    /// 100,000 entries kept.
    pub fn new(stream: impl Into<String>) -> Self {
        Config {
            stream: stream.into(),
            batch: 256,
            block: Duration::from_secs(1),
            live_capacity: 1024,
            client_queue: 64,
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
    /// The largest ID removed by `XDEL` (trimming does not count here).
    max_deleted: EntryId,
    /// The oldest entry kept, if any.
    first: Option<EntryId>,
    /// Whether any entry was ever removed (trimmed or deleted).
    removed: bool,
}

impl StreamState {
    /// Whether an entry after `id` may have been removed before a client
    /// that has read up to `id` saw it.
    ///
    /// Trimming removes the oldest entries, so when `id` is older than the
    /// oldest entry kept, entries after it may be gone. Redis cannot say
    /// whether the entry right after `id` was the oldest kept one, in which
    /// case nothing was lost: that one case gets a needless reset, never a
    /// silent loss.
    fn lost_after(&self, id: EntryId) -> bool {
        if id < self.max_deleted {
            return true;
        }
        self.removed
            && match self.first {
                Some(first) => id < first,
                None => id < self.last_generated,
            }
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
    live: broadcast::Sender<Arc<[Entry]>>,
    reader: AbortHandle,
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
    pub async fn start(client: redis::Client, config: Config) -> RedisResult<Fanout> {
        let mut con = connect(&client, Duration::from_secs(5)).await?;
        let from = stream_state(&mut con, &config.stream).await?.last_generated;
        let (live, _) = broadcast::channel(config.live_capacity.max(1));
        let reader = tokio::spawn(read_loop(client, config.clone(), live.clone(), from));
        Ok(Fanout {
            inner: Arc::new(Inner {
                config,
                con,
                live,
                reader: reader.abort_handle(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
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
    /// signal `event: reset` (no `id`), with JSON data
    /// `{"reason": R, "last_event_id": "<as sent>"}`, and what follows is:
    ///
    /// - `R = "trimmed"`: entries after the ID were trimmed from the stream
    ///   (or deleted). Every entry after the ID that Redis still has
    ///   follows; the ones in between are lost to this client, which should
    ///   reload its state.
    /// - `R = "unknown"`: the ID is not an entry ID, or is past the end of
    ///   the stream (the stream was deleted and made again). Every entry
    ///   Redis has follows, from the oldest.
    ///
    /// The same signal comes mid-stream when a client falls so far behind
    /// that entries it has not been sent are trimmed before it reads them.
    ///
    /// The stream ends when Redis fails; the client then reconnects with its
    /// last ID, to this instance or another, and loses nothing.
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
        mut live: broadcast::Receiver<Arc<[Entry]>>,
        tx: &mpsc::Sender<ServerEvent>,
    ) -> RedisResult<()> {
        let config = &self.inner.config;
        if let Some(retry) = config.retry {
            if tx.send(ServerEvent::new().retry(retry)).await.is_err() {
                return Ok(());
            }
        }
        let mut con = self.inner.con.clone();
        let state = stream_state(&mut con, &config.stream).await?;
        let mut last = match last_event_id {
            None => state.last_generated,
            Some(sent) => {
                let (reset, from) = match sent.parse::<EntryId>() {
                    Ok(id) if id > state.last_generated => (Some("unknown"), EntryId::ZERO),
                    Ok(id) if state.lost_after(id) => (Some("trimmed"), id),
                    Ok(id) => (None, id),
                    Err(_) => (Some("unknown"), EntryId::ZERO),
                };
                if let Some(reason) = reset {
                    if tx.send(reset_event(reason, &sent)).await.is_err() {
                        return Ok(());
                    }
                }
                from
            }
        };
        let Some(caught_up) = self.catch_up(&mut con, last, tx).await? else {
            return Ok(());
        };
        last = caught_up;
        loop {
            let batch = tokio::select! {
                () = tx.closed() => return Ok(()),
                batch = live.recv() => batch,
            };
            match batch {
                Ok(batch) => {
                    for entry in batch.iter() {
                        if entry.id <= last {
                            continue; // sent already, by the catch-up
                        }
                        if tx.send(entry.to_event()).await.is_err() {
                            return Ok(());
                        }
                        last = entry.id;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Behind the live window: read the rest from Redis.
                    let state = stream_state(&mut con, &config.stream).await?;
                    if state.lost_after(last)
                        && tx
                            .send(reset_event("trimmed", &last.to_string()))
                            .await
                            .is_err()
                    {
                        return Ok(());
                    }
                    match self.catch_up(&mut con, last, tx).await? {
                        Some(l) => last = l,
                        None => return Ok(()),
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Sends every entry after `after` that Redis has, page by page, and
    /// returns the last ID sent (`None` when the client went away).
    async fn catch_up(
        &self,
        con: &mut MultiplexedConnection,
        after: EntryId,
        tx: &mpsc::Sender<ServerEvent>,
    ) -> RedisResult<Option<EntryId>> {
        let config = &self.inner.config;
        let mut last = after;
        loop {
            let page: StreamRangeReply = redis::cmd("XRANGE")
                .arg(&config.stream)
                .arg(format!("({last}"))
                .arg("+")
                .arg("COUNT")
                .arg(config.batch)
                .query_async(con)
                .await?;
            let n = page.ids.len();
            for entry in page.ids.iter().filter_map(Entry::from_redis) {
                if tx.send(entry.to_event()).await.is_err() {
                    return Ok(None);
                }
                last = entry.id;
            }
            if n < config.batch {
                return Ok(Some(last));
            }
        }
    }
}

/// The signal of [`Fanout::subscribe`].
fn reset_event(reason: &str, last_event_id: &str) -> ServerEvent {
    let data = serde_json::json!({ "reason": reason, "last_event_id": last_event_id });
    ServerEvent::new().event(RESET_EVENT).data(data.to_string())
}

/// `XINFO STREAM`, or an empty state when the stream does not exist yet.
async fn stream_state(con: &mut MultiplexedConnection, stream: &str) -> RedisResult<StreamState> {
    let reply: RedisResult<HashMap<String, Value>> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async(con)
        .await;
    let info = match reply {
        Ok(info) => info,
        Err(e) if e.to_string().contains("no such key") => return Ok(StreamState::default()),
        Err(e) => return Err(e),
    };
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
    Ok(StreamState {
        last_generated: id("last-generated-id").unwrap_or_default(),
        max_deleted: id("max-deleted-entry-id").unwrap_or_default(),
        first: id("recorded-first-entry-id").filter(|_| length > 0),
        removed: number("entries-added") > length,
    })
}

/// The instance's one reader: `XREAD BLOCK` from the last entry read, each
/// batch sent to every connection. Reconnects on failure, from where it
/// stopped.
async fn read_loop(
    client: redis::Client,
    config: Config,
    live: broadcast::Sender<Arc<[Entry]>>,
    mut last: EntryId,
) {
    let mut con = None;
    loop {
        let c = match &mut con {
            Some(c) => c,
            None => match connect(&client, config.block + Duration::from_secs(5)).await {
                Ok(c) => con.insert(c),
                Err(e) => {
                    eprintln!("redis-fanout: reader cannot connect: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
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
                let entries: Vec<Entry> = reply
                    .keys
                    .iter()
                    .flat_map(|k| k.ids.iter().filter_map(Entry::from_redis))
                    .collect();
                if let Some(e) = entries.last() {
                    last = e.id;
                    // No receivers is fine: no client right now.
                    let _ = live.send(entries.into());
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
/// [`SseBody`](sse_core::adapter::body::SseBody). Dropping it stops the
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
