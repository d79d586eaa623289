//! A broadcast hub with a bounded log, for resuming clients.

use core::fmt;
use core::hash::{BuildHasher, Hasher};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::collections::{HashMap, VecDeque};
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::vec::Vec;

use futures_core::Stream;

use super::Encoded;
use crate::encoder::{EncodeError, ServerEvent};

/// One stream of events fanned out to many subscribers, or several
/// streams (topics, sessions) kept apart: publish an event once, and every
/// subscriber of its stream gets it, encoded once and shared.
///
/// Each stream keeps a bounded log of its last events, so that a client
/// that reconnects with `Last-Event-ID` gets exactly the events it missed
/// and then the live ones, with no gap and no duplicate at the seam. The
/// log is also the only buffer: a subscriber that falls behind reads from
/// it, so a slow subscriber costs the hub its place in the log and at most
/// 8 KiB of events taken from it (or one event, if larger).
///
/// **Ids are the hub's.** [`publish`](Hub::publish) replaces an event's id
/// with one that names the hub's lifetime (its epoch, random per hub unless
/// [`HubConfig::epoch`] sets it), the stream, and the event's place in it,
/// such as `5c1f0e2a9b3d4c71-0-42`. So a resume can be told apart from a
/// client of another process lifetime, another instance, or another
/// stream, and each of those gets an explicit signal instead of a wrong
/// resume: the subscription starts with a `reset` event (see [`Resume`]).
///
/// **Never silent loss.** A subscriber whose events were dropped from the
/// log before it read them (it fell behind by more than the log's bounds)
/// gets a `reset` event with reason `lost` at that point, then the live
/// events.
///
/// A subscriber that stops reading costs the hub no more than that, but
/// its connection still holds what was written to it; drop such
/// connections with [`super::WriteTimeout`] (the demo server does).
///
/// A stream exists from its first `publish` or `subscribe` until
/// [`close`](Hub::close), or until it has neither events nor subscribers
/// (a stream only subscribed to is forgotten when its last subscriber
/// goes; an id it primed a client with then gets a `reset`).
///
/// ```
/// use futures_util::StreamExt;
/// use sse_proto::server::{Hub, Resume};
/// use sse_proto::ServerEvent;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let hub = Hub::new();
/// let mut first = hub.subscribe("news", None);
/// let id = hub.publish("news", ServerEvent::new().data("one"))?;
/// hub.publish("news", ServerEvent::new().data("two"))?;
///
/// // The first subscriber is primed with the stream's position, then gets both.
/// let primed = first.next().await.unwrap();
/// assert!(!primed.has_data());
/// assert_eq!(first.next().await.unwrap().as_bytes(), &format!("id: {id}\ndata: one\n\n"));
///
/// // A client that saw "one" resumes after it.
/// let mut resumed = hub.subscribe("news", Some(&id));
/// assert_eq!(resumed.outcome(), Resume::Resumed { missed: 1 });
/// assert!(resumed.next().await.unwrap().as_bytes().ends_with(b"data: two\n\n"));
///
/// // An id from another stream, or another hub, is a reset, never a wrong resume.
/// let other = hub.subscribe("weather", Some(&id));
/// assert_eq!(other.outcome(), Resume::Reset(sse_proto::server::ResetReason::OtherStream));
/// # Ok::<(), sse_proto::EncodeError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    epoch: u64,
    config: HubConfig,
    streams: Mutex<Streams>,
}

struct Streams {
    by_name: HashMap<String, Arc<Topic>>,
    /// The number the next new stream gets: never reused in a hub's life,
    /// so an id of a closed stream never resumes its successor.
    next_number: u64,
}

struct Topic {
    name: String,
    number: u64,
    log: Mutex<Log>,
}

struct Log {
    entries: VecDeque<Entry>,
    /// The encoded size of `entries`.
    bytes: usize,
    /// The sequence number of the next event; the first is 1.
    next_seq: u64,
    /// The subscribers waiting for the next event.
    wakers: Vec<Waker>,
    subscribers: usize,
    /// Closed, or forgotten while empty: no longer the hub's stream of its
    /// name. Publishers and subscribers that find it so look it up again.
    closed: bool,
    /// Of a [`KeyedHub`]'s stream: every event after this position is in
    /// the log or not published yet (`None`: not known before the oldest
    /// entry). Raised as entries are dropped.
    floor: Option<u128>,
    /// Of a [`KeyedHub`]'s stream: the position of the last event
    /// published, or the one [`KeyedHub::follow`] gave, if later (0:
    /// neither).
    last_key: u128,
}

#[derive(Clone)]
struct Entry {
    seq: u64,
    /// The event's position: its `seq` in a [`Hub`], the publisher's in a
    /// [`KeyedHub`].
    key: u128,
    event: Encoded,
}

impl Log {
    /// Appends an encoded event and drops the oldest beyond the bounds;
    /// returns the wakers to wake.
    fn push(&mut self, key: u128, event: Encoded, config: &HubConfig) -> Vec<Waker> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += event.as_bytes().len();
        self.entries.push_back(Entry { seq, key, event });
        while self.entries.len() > config.max_events
            || (self.bytes > config.max_bytes && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.event.as_bytes().len();
                self.floor = Some(old.key);
            }
        }
        core::mem::take(&mut self.wakers)
    }
}

/// How much a [`Hub`] keeps of each stream, and its epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    max_events: usize,
    max_bytes: usize,
    epoch: Option<u64>,
}

impl Default for HubConfig {
    /// 1,024 events and 4 MiB per stream (the newest event is always kept),
    /// and a random epoch.
    fn default() -> Self {
        HubConfig {
            max_events: 1024,
            max_bytes: 4 << 20,
            epoch: None,
        }
    }
}

impl HubConfig {
    /// Keep at most `n` events of each stream (at least one).
    pub fn max_events(mut self, n: usize) -> Self {
        self.max_events = n.max(1);
        self
    }

    /// Keep at most `n` bytes of encoded events of each stream; the newest
    /// event is kept whatever its size.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// The epoch written into every id, instead of a random one. Two hubs
    /// with the same epoch take each other's ids as their own: give each
    /// process lifetime its own (a random one does), unless the log
    /// outlives the process.
    pub fn epoch(mut self, epoch: u64) -> Self {
        self.epoch = Some(epoch);
        self
    }
}

/// What a [`Hub::subscribe`] made of the client's `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resume {
    /// No `Last-Event-ID`: a new client. It gets the events published from
    /// now on (with [`Hub::subscribe_with_backlog`], every event of the log
    /// first). A [`Hub`] sends it first a block of only an id (no event), so
    /// that it can resume from there even if it loses the connection before
    /// the first event; a [`KeyedHub`] does not, as its ids are the events'
    /// own. Send it whatever state it needs first.
    New,
    /// The client resumes: it gets the `missed` events it has not seen,
    /// then the live ones.
    Resumed {
        /// How many events of the log it gets first.
        missed: u64,
    },
    /// The client cannot be resumed: the subscription starts with a
    /// `reset` event (below), then the live events. The application may
    /// send it a full state first, as for a new client.
    ///
    /// The `reset` event has type `reset`, data `{"reason":"R"}` where `R`
    /// is the [`ResetReason`]'s name (`lost`, `unknown`, `other-stream`),
    /// and as its id the stream's current position, so that a client that
    /// reconnects after it is resumed from there.
    Reset(ResetReason),
    /// Only from a [`KeyedHub`]: the log does not hold every event after
    /// the client's position. The subscription has ended at once (see
    /// [`Subscription::behind`]): catch the client up from the durable
    /// log, then subscribe again.
    Behind,
}

/// Why a client cannot be resumed, or lost events while subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResetReason {
    /// Events after the client's id are no longer in the log: it was away
    /// (or fell behind) for longer than the log's bounds. Name: `lost`.
    Lost,
    /// The id is not one of this hub's lifetime: another process lifetime
    /// (a restart), another instance, another hub, an id the hub has not
    /// issued yet, or not a hub id at all. Name: `unknown`.
    Unknown,
    /// The id is one of this hub's, of another stream (or of a closed
    /// stream of the same name). Name: `other-stream`.
    OtherStream,
}

impl ResetReason {
    /// The name written in the `reset` event's data.
    pub fn name(self) -> &'static str {
        match self {
            ResetReason::Lost => "lost",
            ResetReason::Unknown => "unknown",
            ResetReason::OtherStream => "other-stream",
        }
    }
}

impl fmt::Display for ResetReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResetReason::Lost => "the events after that id are no longer kept",
            ResetReason::Unknown => "that id was not issued by this hub in its current life",
            ResetReason::OtherStream => "that id belongs to another stream",
        })
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("epoch", &self.shared.epoch)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere does not make the log wrong: every change to it is
    // made whole under the lock.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A random epoch, from std's per-process randomness.
fn random_epoch() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5EED);
    h.finish()
}

/// The id of event `seq` of stream `number` in a hub of `epoch`.
fn format_id(epoch: u64, number: u64, seq: u64) -> String {
    std::format!("{epoch:016x}-{number:x}-{seq}")
}

/// The parts of a hub id, when `id` is one in the form [`format_id`]
/// writes (and no other spelling of it).
fn parse_id(id: &str) -> Option<(u64, u64, u64)> {
    let mut parts = id.splitn(3, '-');
    let epoch = u64::from_str_radix(parts.next()?, 16).ok()?;
    let number = u64::from_str_radix(parts.next()?, 16).ok()?;
    let seq = parts.next()?.parse().ok()?;
    (format_id(epoch, number, seq) == id).then_some((epoch, number, seq))
}

impl Hub {
    /// A hub with the default [`HubConfig`].
    pub fn new() -> Self {
        Hub::with_config(HubConfig::default())
    }

    /// A hub that keeps what `config` says.
    pub fn with_config(config: HubConfig) -> Self {
        Hub {
            shared: Arc::new(Shared {
                epoch: config.epoch.unwrap_or_else(random_epoch),
                config,
                streams: Mutex::new(Streams {
                    by_name: HashMap::new(),
                    next_number: 0,
                }),
            }),
        }
    }

    /// The epoch written into this hub's ids.
    pub fn epoch(&self) -> u64 {
        self.shared.epoch
    }

    fn topic(&self, stream: &str) -> Arc<Topic> {
        let mut streams = lock(&self.shared.streams);
        if let Some(topic) = streams.by_name.get(stream) {
            return topic.clone();
        }
        let topic = Arc::new(Topic {
            name: stream.to_string(),
            number: streams.next_number,
            log: Mutex::new(Log {
                entries: VecDeque::new(),
                bytes: 0,
                next_seq: 1,
                wakers: Vec::new(),
                subscribers: 0,
                closed: false,
                floor: None,
                last_key: 0,
            }),
        });
        streams.next_number += 1;
        streams.by_name.insert(stream.to_string(), topic.clone());
        topic
    }

    /// Runs `f` on the stream of that name and its log, locked: never on
    /// one that was closed or forgotten meanwhile.
    fn with_live<R>(&self, stream: &str, f: impl FnOnce(&Arc<Topic>, &mut Log) -> R) -> R {
        loop {
            let topic = self.topic(stream);
            let mut log = lock(&topic.log);
            if !log.closed {
                return f(&topic, &mut log);
            }
        }
    }

    /// Sends `event` to every subscriber of `stream` and keeps it in the
    /// stream's log, with the hub's next id for it (the event's own id, if
    /// it has one, is replaced). Returns that id.
    ///
    /// # Errors
    ///
    /// The encoder's refusal (see [`EncodeError`]); nothing is sent or
    /// kept, and no id is used up.
    pub fn publish(&self, stream: &str, event: ServerEvent) -> Result<String, EncodeError> {
        let epoch = self.shared.epoch;
        let config = &self.shared.config;
        let (id, wakers) = self.with_live(stream, |topic, log| {
            let id = format_id(epoch, topic.number, log.next_seq);
            let event = Encoded::new(&event.id(id.clone()))?;
            let key = u128::from(log.next_seq);
            Ok::<_, EncodeError>((id, log.push(key, event, config)))
        })?;
        for waker in wakers {
            waker.wake();
        }
        Ok(id)
    }

    /// A subscription to `stream` for a client that sent `last_event_id`
    /// (see [`super::last_event_id`]): the events it missed, if the log
    /// can tell, then the live ones. [`Subscription::outcome`] says which;
    /// see [`Resume`].
    pub fn subscribe(&self, stream: &str, last_event_id: Option<&str>) -> Subscription {
        self.subscribe_inner(stream, last_event_id, false)
    }

    /// As [`subscribe`](Hub::subscribe), but a new client (no
    /// `Last-Event-ID`) first gets every event the log still holds: for a
    /// stream whose recent past a new client wants too (a chat room, a
    /// ticker), and for a client that must not miss the events published
    /// between its page load and its first request.
    pub fn subscribe_with_backlog(
        &self,
        stream: &str,
        last_event_id: Option<&str>,
    ) -> Subscription {
        self.subscribe_inner(stream, last_event_id, true)
    }

    fn subscribe_inner(
        &self,
        stream: &str,
        last_event_id: Option<&str>,
        backlog: bool,
    ) -> Subscription {
        let epoch = self.shared.epoch;
        let hub = Arc::downgrade(&self.shared);
        self.with_live(stream, |topic, log| {
            log.subscribers += 1;
            let now = log.next_seq;
            let oldest = log.entries.front().map_or(now, |e| e.seq);
            let outcome = match last_event_id.map(parse_id) {
                None => Resume::New,
                Some(Some((e, n, seq))) if e == epoch && n == topic.number => {
                    if seq >= now {
                        Resume::Reset(ResetReason::Unknown)
                    } else if seq + 1 < oldest {
                        Resume::Reset(ResetReason::Lost)
                    } else {
                        Resume::Resumed {
                            missed: now - seq - 1,
                        }
                    }
                }
                Some(Some((e, _, _))) if e == epoch => Resume::Reset(ResetReason::OtherStream),
                Some(_) => Resume::Reset(ResetReason::Unknown),
            };
            let (cursor, first) = match outcome {
                Resume::Resumed { missed } => (now - missed, None),
                Resume::New => {
                    let from = if backlog { oldest } else { now };
                    (from, Some(position(epoch, topic.number, from)))
                }
                Resume::Reset(why) => (now, Some(reset(epoch, topic.number, now, why))),
                // Only a keyed hub's outcome, never made above.
                Resume::Behind => (now, None),
            };
            Subscription::new(hub, topic, cursor, outcome, epoch, first, None)
        })
    }

    /// Ends every subscription of `stream` once it has sent what was
    /// published, and forgets the stream: its log is freed when the last of
    /// those subscriptions is dropped. A later [`publish`](Hub::publish) or
    /// [`subscribe`](Hub::subscribe) with the same name starts a new
    /// stream, whose ids the old ones do not resume (they get
    /// [`ResetReason::OtherStream`]). A stream with events is kept until
    /// closed: close the ones that end (a session's) to give back their log.
    pub fn close(&self, stream: &str) {
        let topic = lock(&self.shared.streams).by_name.remove(stream);
        if let Some(topic) = topic {
            let mut log = lock(&topic.log);
            log.closed = true;
            let wakers = core::mem::take(&mut log.wakers);
            drop(log);
            wakers.into_iter().for_each(Waker::wake);
        }
    }

    /// How many subscriptions of `stream` are alive.
    pub fn subscribers(&self, stream: &str) -> usize {
        let topic = lock(&self.shared.streams).by_name.get(stream).cloned();
        topic.map_or(0, |t| lock(&t.log).subscribers)
    }

    /// The number of events in `stream`'s log, and their encoded size.
    pub fn log_size(&self, stream: &str) -> (usize, usize) {
        let topic = lock(&self.shared.streams).by_name.get(stream).cloned();
        topic.map_or((0, 0), |t| {
            let log = lock(&t.log);
            (log.entries.len(), log.bytes)
        })
    }
}

/// A [`Hub`] for events whose ids come from a durable log the
/// application keeps (Redis Streams, a database table, a Kafka topic): it
/// fans each event out, encoded once, and keeps the recent ones in memory,
/// so that most clients resume from memory and only those further back
/// are caught up from the durable log, by the application.
///
/// Each event is published with its **position**, a number that grows
/// with every event of the stream (a Redis entry ID `ms-seq` is
/// `ms << 64 | seq`; 0 is before every event), and the event keeps its own
/// id. The publisher promises to publish every event of the stream, in
/// order, from the position it [follows](KeyedHub::follow) on; a gap in
/// what it read is declared with `follow` too.
///
/// A subscription starts after a position (the one the client's
/// `Last-Event-ID` names, which the application parses). When the log
/// holds every event after it, the subscription sends them, then the live
/// ones ([`Resume::Resumed`]). When it does not ([`Resume::Behind`]), or
/// when a subscriber falls behind by more than the log keeps, the
/// subscription ends, and [`Subscription::behind`] says after which
/// position the application must catch the client up from its log; then
/// it subscribes again. Nothing is sent twice: a subscription skips the
/// events at or before the position it started after.
///
/// ```
/// use futures_util::StreamExt;
/// use sse_proto::server::{KeyedHub, Resume};
/// use sse_proto::ServerEvent;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let hub = KeyedHub::new(Default::default());
/// hub.follow("news", 10); // the durable log stands at position 10
/// hub.publish("news", 11, ServerEvent::new().id("11").data("eleven"))?;
///
/// // A client that saw 10 is resumed from memory...
/// let mut sub = hub.subscribe("news", Some(10));
/// assert_eq!(sub.outcome(), Resume::Resumed { missed: 1 });
/// assert!(sub.next().await.unwrap().as_bytes().ends_with(b"data: eleven\n\n"));
///
/// // ...one that saw 7 is not: the application reads 8 to 10 from its log,
/// // sends them, and subscribes again after 10.
/// let mut sub = hub.subscribe("news", Some(7));
/// assert_eq!(sub.outcome(), Resume::Behind);
/// assert!(sub.next().await.is_none());
/// assert_eq!(sub.behind(), Some(7));
/// # Ok::<(), sse_proto::EncodeError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct KeyedHub {
    hub: Hub,
}

impl KeyedHub {
    /// A hub that keeps what `config` says of each stream (its epoch is
    /// not used: the ids are the events' own).
    pub fn new(config: HubConfig) -> Self {
        KeyedHub {
            hub: Hub::with_config(config),
        }
    }

    /// Declares that every event of `stream` after `position` will be
    /// published here, in order: call it when the publisher starts reading
    /// the durable log, before any client subscribes, so that clients at
    /// that position or after it are resumed from memory.
    ///
    /// Called again with a later position than the last event published,
    /// it declares a gap: the events between were not, and will not be,
    /// published here (the publisher lost its place, or they were trimmed
    /// from the durable log before it read them). The log is emptied, and
    /// every subscription of the stream ends [behind](Subscription::behind)
    /// the last event it sent, so that the application catches each one up
    /// from its log. An earlier or equal position changes nothing.
    pub fn follow(&self, stream: &str, position: u128) {
        let wakers = self.hub.with_live(stream, |_, log| {
            if log.next_seq == 1 && log.floor.is_none() {
                // The first position given, before any event: no gap.
                log.floor = Some(position);
                log.last_key = position;
                return Vec::new();
            }
            if position <= log.last_key {
                return Vec::new();
            }
            log.floor = Some(position);
            log.last_key = position;
            log.entries.clear();
            log.bytes = 0;
            // A place no subscriber has reached: every one is behind it.
            log.next_seq += 1;
            core::mem::take(&mut log.wakers)
        });
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Sends `event`, at `position`, to every subscriber of `stream` and
    /// keeps it in the log. The event is sent with its own id (usually
    /// the durable log's id for `position`). Returns whether it was
    /// published: an event at or before the last position published or
    /// followed is not (a publisher that reads again after a reconnect may
    /// hand it twice), nor is one at position 0.
    ///
    /// # Errors
    ///
    /// The encoder's refusal (see [`EncodeError`]); nothing is sent or
    /// kept.
    pub fn publish(
        &self,
        stream: &str,
        position: u128,
        event: ServerEvent,
    ) -> Result<bool, EncodeError> {
        Ok(self.publish_encoded(stream, position, Encoded::new(&event)?))
    }

    /// As [`publish`](KeyedHub::publish), for an event encoded already.
    pub fn publish_encoded(&self, stream: &str, position: u128, event: Encoded) -> bool {
        let config = &self.hub.shared.config;
        let wakers = self.hub.with_live(stream, |_, log| {
            if position <= log.last_key {
                return None;
            }
            log.last_key = position;
            Some(log.push(position, event, config))
        });
        let published = wakers.is_some();
        wakers.into_iter().flatten().for_each(Waker::wake);
        published
    }

    /// A subscription to `stream` for a client that has every event up to
    /// `after` (`None`: a new client, which gets the events published from
    /// now on). See [`Resume`] for the outcomes, and the type's docs for
    /// what to do when it is [`Resume::Behind`].
    ///
    /// A position past the last one published is taken as the client's
    /// word: [`Resume::Resumed`] with nothing missed, and every event up
    /// to that position skipped. That is right for a client coming from an
    /// instance whose reader is ahead of this one (it gets nothing twice),
    /// but a forged or mistyped id would leave the client waiting until
    /// the stream reaches it. Where ids can come from anywhere, check them
    /// against your durable log, or at least against
    /// [`position`](KeyedHub::position), first:
    ///
    /// ```
    /// use sse_proto::server::{KeyedHub, Resume};
    ///
    /// let hub = KeyedHub::new(Default::default());
    /// hub.follow("news", 10);
    /// let from_client = Some(99_999_u128); // parsed from Last-Event-ID
    /// assert_eq!(hub.subscribe("news", from_client).outcome(), Resume::Resumed { missed: 0 });
    ///
    /// // Past the end: treat it as a new client (or look it up in the log).
    /// let after = from_client.filter(|&p| p <= hub.position("news"));
    /// assert_eq!(hub.subscribe("news", after).outcome(), Resume::New);
    /// ```
    pub fn subscribe(&self, stream: &str, after: Option<u128>) -> Subscription {
        let hub = Arc::downgrade(&self.hub.shared);
        let epoch = self.hub.shared.epoch;
        self.hub.with_live(stream, |topic, log| {
            log.subscribers += 1;
            let now = log.next_seq;
            let (outcome, cursor, position) = match after {
                None => (Resume::New, now, log.last_key),
                Some(p) => {
                    let kept = log.floor.is_some_and(|f| p >= f)
                        || log.entries.front().is_some_and(|e| p >= e.key);
                    if kept {
                        let i = log.entries.partition_point(|e| e.key <= p);
                        let cursor = log.entries.get(i).map_or(now, |e| e.seq);
                        let missed = (log.entries.len() - i) as u64;
                        (Resume::Resumed { missed }, cursor, p)
                    } else {
                        (Resume::Behind, now, p)
                    }
                }
            };
            let keyed = Keyed {
                after: position,
                behind: (outcome == Resume::Behind).then_some(position),
            };
            Subscription::new(hub, topic, cursor, outcome, epoch, None, Some(keyed))
        })
    }

    /// The position of the last event published to `stream`, or the one
    /// it follows from, if later (0 for a stream it knows nothing of).
    pub fn position(&self, stream: &str) -> u128 {
        let topic = lock(&self.hub.shared.streams).by_name.get(stream).cloned();
        topic.map_or(0, |t| lock(&t.log).last_key)
    }

    /// Ends every subscription of `stream`, as [`Hub::close`] does.
    pub fn close(&self, stream: &str) {
        self.hub.close(stream);
    }

    /// How many subscriptions of `stream` are alive.
    pub fn subscribers(&self, stream: &str) -> usize {
        self.hub.subscribers(stream)
    }

    /// The number of events in `stream`'s log, and their encoded size.
    pub fn log_size(&self, stream: &str) -> (usize, usize) {
        self.hub.log_size(stream)
    }
}

/// The id of the position before event `next` (the last event sent, or
/// `…-0` before the first).
fn position_id(epoch: u64, number: u64, next: u64) -> String {
    format_id(epoch, number, next - 1)
}

/// A block of only an id: sets the client's last event ID to the stream's
/// position, and dispatches nothing.
fn position(epoch: u64, number: u64, next: u64) -> Encoded {
    let event = ServerEvent::new().id(position_id(epoch, number, next));
    Encoded::new(&event).unwrap_or_else(|_| unreachable!("a hub id is always valid"))
}

/// The `reset` event; see [`Resume::Reset`].
fn reset(epoch: u64, number: u64, next: u64, why: ResetReason) -> Encoded {
    let event = ServerEvent::new()
        .event("reset")
        .id(position_id(epoch, number, next))
        .data(std::format!("{{\"reason\":\"{}\"}}", why.name()));
    Encoded::new(&event).unwrap_or_else(|_| unreachable!("a reset event is always valid"))
}

/// How many events, and how many bytes of them, a subscriber takes from
/// the log under one lock (at least one event, whatever its size): all a
/// subscriber that stops reading keeps of events the log has dropped.
const BATCH: usize = 64;
const BATCH_BYTES: usize = 8 * 1024;

/// The events of one stream for one client: a `Stream` of [`Encoded`]
/// events, for [`crate::adapter::body::SseBody`]. It ends when the stream
/// is [closed](Hub::close).
#[must_use = "a subscription does nothing unless polled"]
pub struct Subscription {
    /// To forget the stream when it is left empty; not to keep the hub.
    hub: Weak<Shared>,
    topic: Arc<Topic>,
    /// The sequence number of the next event to take from the log.
    cursor: u64,
    outcome: Resume,
    epoch: u64,
    /// Events taken from the log, not yet sent.
    ready: VecDeque<Encoded>,
    /// The priming block or the `reset` event, sent first.
    first: Option<Encoded>,
    /// The waker registered in the log, and the event it waits for: not
    /// registered again until that event comes, unless the task changes.
    waiting: Option<(u64, Waker)>,
    /// A [`KeyedHub`]'s subscription: where it stands.
    keyed: Option<Keyed>,
}

/// Where a [`KeyedHub`]'s subscription stands.
struct Keyed {
    /// The position of the last event taken, or the one it started after.
    after: u128,
    /// Set when the log no longer holds the events after `after`: the
    /// subscription has ended there.
    behind: Option<u128>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("outcome", &self.outcome)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    fn new(
        hub: Weak<Shared>,
        topic: &Arc<Topic>,
        cursor: u64,
        outcome: Resume,
        epoch: u64,
        first: Option<Encoded>,
        keyed: Option<Keyed>,
    ) -> Self {
        Subscription {
            hub,
            topic: topic.clone(),
            cursor,
            outcome,
            epoch,
            ready: VecDeque::new(),
            first,
            waiting: None,
            keyed,
        }
    }

    /// What the hub made of the client's `Last-Event-ID` (or, from a
    /// [`KeyedHub`], of its position).
    pub fn outcome(&self) -> Resume {
        self.outcome
    }

    /// Of a [`KeyedHub`]'s subscription that has ended because the log no
    /// longer holds the events after the last one it sent: that event's
    /// position (or the one it started after, if it sent none). Catch the
    /// client up from the durable log after that position, then subscribe
    /// again from the last position sent. `None` while the subscription
    /// goes on, when it ended because the stream was closed, and for a
    /// [`Hub`]'s subscriptions (which send a `reset` event instead).
    pub fn behind(&self) -> Option<u128> {
        self.keyed.as_ref().and_then(|k| k.behind)
    }
}

impl Stream for Subscription {
    type Item = Encoded;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Encoded>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        loop {
            if let Some(event) = this.ready.pop_front() {
                return Poll::Ready(Some(event));
            }
            if this.keyed.as_ref().is_some_and(|k| k.behind.is_some()) {
                return Poll::Ready(None);
            }
            let mut log = lock(&this.topic.log);
            let now = log.next_seq;
            let oldest = log.entries.front().map_or(now, |e| e.seq);
            if this.cursor < oldest {
                if let Some(keyed) = &mut this.keyed {
                    // The application catches this one up from its own log.
                    keyed.behind = Some(keyed.after);
                    return Poll::Ready(None);
                }
                // Fell behind by more than the log keeps: say so, and go on
                // from here.
                this.cursor = now;
                let number = this.topic.number;
                return Poll::Ready(Some(reset(this.epoch, number, now, ResetReason::Lost)));
            }
            if this.cursor < now {
                let skip = usize::try_from(this.cursor - oldest).unwrap_or(usize::MAX);
                let mut bytes = 0;
                let mut taken = 0;
                for entry in log.entries.iter().skip(skip).take(BATCH) {
                    if bytes >= BATCH_BYTES {
                        break;
                    }
                    taken += 1;
                    if let Some(keyed) = &mut this.keyed {
                        if entry.key <= keyed.after {
                            continue; // the client has it already
                        }
                        keyed.after = entry.key;
                    }
                    bytes += entry.event.as_bytes().len();
                    this.ready.push_back(entry.event.clone());
                }
                this.cursor += taken;
                continue;
            }
            if log.closed {
                return Poll::Ready(None);
            }
            let registered =
                matches!(&this.waiting, Some((at, w)) if *at == now && w.will_wake(cx.waker()));
            if !registered {
                log.wakers.push(cx.waker().clone());
                this.waiting = Some((now, cx.waker().clone()));
            }
            return Poll::Pending;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The hub's streams, then the log: the one order both are taken in.
        let hub = self.hub.upgrade();
        let mut streams = hub.as_ref().map(|h| lock(&h.streams));
        let mut log = lock(&self.topic.log);
        log.subscribers -= 1;
        // Take back the waker, so that clients that come and go while
        // nothing is published do not pile up wakers.
        if let Some((at, waker)) = self.waiting.take() {
            if at == log.next_seq {
                if let Some(i) = log.wakers.iter().position(|w| w.will_wake(&waker)) {
                    log.wakers.swap_remove(i);
                }
            }
        }
        // A stream left with no subscriber and no event is forgotten, so
        // that subscriptions alone (to any name a client sends) do not
        // pile up streams.
        // A followed stream is kept: its position is what lets clients resume.
        if log.subscribers == 0 && log.entries.is_empty() && log.floor.is_none() && !log.closed {
            if let Some(streams) = &mut streams {
                let ours = streams
                    .by_name
                    .get(&self.topic.name)
                    .is_some_and(|t| Arc::ptr_eq(t, &self.topic));
                if ours {
                    streams.by_name.remove(&self.topic.name);
                    log.closed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, Frame};
    use futures_util::StreamExt;
    use std::{format, vec};

    /// The (id, type, data) of each event in `encoded`, as a client reads them.
    fn read(encoded: &[Encoded]) -> Vec<(String, String, String)> {
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for e in encoded {
            for frame in decoder.frames(e.as_bytes().clone()) {
                if let Frame::Event(ev) = frame.expect("valid") {
                    out.push((
                        ev.last_event_id().into_owned(),
                        ev.event_type().into_owned(),
                        ev.data().into_owned(),
                    ));
                }
            }
        }
        out
    }

    /// What `sub` has ready now, without waiting; no test has 10,000
    /// ready, so a subscription that never waits fails here instead of
    /// looping for ever.
    fn drain(sub: &mut Subscription) -> Vec<Encoded> {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let mut out = Vec::new();
        while let Poll::Ready(Some(e)) = Pin::new(&mut *sub).poll_next(&mut cx) {
            out.push(e);
            assert!(out.len() < 10_000, "the subscription never waits");
        }
        out
    }

    fn hub(max_events: usize) -> Hub {
        Hub::with_config(HubConfig::default().max_events(max_events).epoch(0xabc))
    }

    #[test]
    fn ids_name_the_epoch_the_stream_and_the_place() {
        let hub = hub(10);
        assert_eq!(
            hub.publish("a", ServerEvent::new().data("1")).unwrap(),
            "0000000000000abc-0-1"
        );
        assert_eq!(
            hub.publish("b", ServerEvent::new().data("1")).unwrap(),
            "0000000000000abc-1-1"
        );
        assert_eq!(
            hub.publish("a", ServerEvent::new().id("mine").data("2"))
                .unwrap(),
            "0000000000000abc-0-2"
        );
        assert_eq!(parse_id("0000000000000abc-0-2"), Some((0xabc, 0, 2)));
        // Only the spelling the hub writes.
        for other in [
            "abc-0-2",
            "0000000000000abc-0-+2",
            "0000000000000abc-0-02",
            "0000000000000abc-00-2",
            "0000000000000abc-0",
            "",
            "0000000000000ABC-0-2",
        ] {
            assert_eq!(parse_id(other), None, "{other}");
        }
        // A refused event uses no id.
        assert!(hub
            .publish("a", ServerEvent::new().event("x\ny").data("3"))
            .is_err());
        assert_eq!(
            hub.publish("a", ServerEvent::new().data("3")).unwrap(),
            "0000000000000abc-0-3"
        );
    }

    #[test]
    fn a_new_subscriber_is_primed_and_gets_what_comes_next() {
        let hub = hub(10);
        hub.publish("s", ServerEvent::new().data("before")).unwrap();
        let mut sub = hub.subscribe("s", None);
        assert_eq!(sub.outcome(), Resume::New);
        let got = drain(&mut sub);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_bytes(), "id: 0000000000000abc-0-1\n\n");
        assert!(!got[0].has_data());
        hub.publish("s", ServerEvent::new().data("after")).unwrap();
        let got = drain(&mut sub);
        assert_eq!(
            read(&got),
            [(
                "0000000000000abc-0-2".into(),
                "message".into(),
                "after".into()
            )]
        );
        // With the backlog: the log first, primed before it.
        let mut sub = hub.subscribe_with_backlog("s", None);
        let got = drain(&mut sub);
        assert_eq!(got[0].as_bytes(), "id: 0000000000000abc-0-0\n\n");
        assert_eq!(read(&got).len(), 2);
    }

    #[test]
    fn resumes_exactly_after_the_id_and_resets_what_it_cannot_resume() {
        let hub = hub(3);
        let ids: Vec<String> = (1..=5)
            .map(|n| {
                hub.publish("s", ServerEvent::new().data(format!("{n}")))
                    .unwrap()
            })
            .collect();
        // Kept: 3, 4, 5. A client that saw 2 misses nothing.
        let mut sub = hub.subscribe("s", Some(&ids[1]));
        assert_eq!(sub.outcome(), Resume::Resumed { missed: 3 });
        let data: Vec<String> = read(&drain(&mut sub)).into_iter().map(|e| e.2).collect();
        assert_eq!(data, ["3", "4", "5"]);
        let mut sub = hub.subscribe("s", Some(&ids[4]));
        assert_eq!(sub.outcome(), Resume::Resumed { missed: 0 });
        assert!(drain(&mut sub).is_empty());

        let reset = |id: &str| {
            let mut sub = hub.subscribe("s", Some(id));
            let got = read(&drain(&mut sub));
            (sub.outcome(), got)
        };
        let signal = |why: &str| {
            vec![(
                ids[4].clone(),
                "reset".into(),
                format!("{{\"reason\":\"{why}\"}}"),
            )]
        };
        // Event 2 is gone.
        assert_eq!(
            reset(&ids[0]),
            (Resume::Reset(ResetReason::Lost), signal("lost"))
        );
        // Not issued yet, another epoch, another stream, not a hub id.
        assert_eq!(
            reset("0000000000000abc-0-6"),
            (Resume::Reset(ResetReason::Unknown), signal("unknown"))
        );
        assert_eq!(
            reset("0000000000000abd-0-3"),
            (Resume::Reset(ResetReason::Unknown), signal("unknown"))
        );
        assert_eq!(
            reset("0000000000000abc-1-3"),
            (
                Resume::Reset(ResetReason::OtherStream),
                signal("other-stream")
            )
        );
        assert_eq!(
            reset("4"),
            (Resume::Reset(ResetReason::Unknown), signal("unknown"))
        );
    }

    #[test]
    fn another_stream_or_a_closed_one_never_resumes_this_one() {
        let hub = hub(10);
        let a = hub.publish("a", ServerEvent::new().data("secret")).unwrap();
        hub.publish("b", ServerEvent::new().data("b1")).unwrap();
        let mut sub = hub.subscribe("b", Some(&a));
        assert_eq!(sub.outcome(), Resume::Reset(ResetReason::OtherStream));
        let got = read(&drain(&mut sub));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            (got[0].1.as_str(), got[0].2.as_str()),
            ("reset", r#"{"reason":"other-stream"}"#)
        );
        // Closing ends the subscriptions after what was published, and a
        // stream of the same name afterwards is another stream.
        let mut live = hub.subscribe("a", None);
        let _ = drain(&mut live);
        hub.publish("a", ServerEvent::new().data("last")).unwrap();
        hub.close("a");
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        assert!(matches!(
            Pin::new(&mut live).poll_next(&mut cx),
            Poll::Ready(Some(_))
        ));
        assert!(matches!(
            Pin::new(&mut live).poll_next(&mut cx),
            Poll::Ready(None)
        ));
        hub.publish("a", ServerEvent::new().data("new a")).unwrap();
        assert_eq!(
            hub.subscribe("a", Some(&a)).outcome(),
            Resume::Reset(ResetReason::OtherStream)
        );
    }

    #[test]
    fn a_subscriber_that_falls_behind_the_log_is_told_and_goes_on_live() {
        let hub = hub(4);
        let mut slow = hub.subscribe("s", None);
        let _ = drain(&mut slow);
        for n in 1..=10 {
            hub.publish("s", ServerEvent::new().data(format!("{n}")))
                .unwrap();
        }
        // 1 to 6 were dropped before it read them.
        let got = read(&drain(&mut slow));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, "reset");
        assert_eq!(got[0].2, r#"{"reason":"lost"}"#);
        assert_eq!(got[0].0, "0000000000000abc-0-10");
        hub.publish("s", ServerEvent::new().data("11")).unwrap();
        assert_eq!(read(&drain(&mut slow))[0].2, "11");
        // Behind, but within the log: caught up from it, nothing lost.
        for n in 12..=15 {
            hub.publish("s", ServerEvent::new().data(format!("{n}")))
                .unwrap();
        }
        let data: Vec<String> = read(&drain(&mut slow)).into_iter().map(|e| e.2).collect();
        assert_eq!(data, ["12", "13", "14", "15"]);
    }

    #[test]
    fn memory_is_bounded_by_the_log_whatever_the_subscribers_do() {
        let hub = Hub::with_config(HubConfig::default().max_events(1000).max_bytes(10_000));
        let idle: Vec<Subscription> = (0..100).map(|_| hub.subscribe("s", None)).collect();
        for _ in 0..1000 {
            hub.publish("s", ServerEvent::new().data("x".repeat(100)))
                .unwrap();
        }
        let (events, bytes) = hub.log_size("s");
        assert!(
            bytes <= 10_000 && events < 100,
            "{events} events, {bytes} bytes"
        );
        assert_eq!(hub.subscribers("s"), 100);
        drop(idle);
        assert_eq!(hub.subscribers("s"), 0);
        // Clients that come and go while nothing is published leave no wakers.
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        for _ in 0..1000 {
            let mut sub = hub.subscribe("s", None);
            // The priming block, then it waits (bounded: a subscription
            // that never waited would loop here).
            let ready = (0..10)
                .take_while(|_| Pin::new(&mut sub).poll_next(&mut cx).is_ready())
                .count();
            assert_eq!(ready, 1);
        }
        let topic = hub.topic("s");
        assert_eq!(lock(&topic.log).wakers.len(), 0);
        // A subscriber polled again and again waits once.
        let mut sub = hub.subscribe("s", None);
        for _ in 0..10 {
            let _ = Pin::new(&mut sub).poll_next(&mut cx);
        }
        assert_eq!(lock(&topic.log).wakers.len(), 1);
    }

    #[test]
    fn a_stalled_subscriber_keeps_at_most_a_batch_of_what_the_log_dropped() {
        let hub = hub(64);
        let mut sub = hub.subscribe("s", None);
        let _ = drain(&mut sub);
        for _ in 0..64 {
            hub.publish("s", ServerEvent::new().data("x".repeat(1000)))
                .unwrap();
        }
        // One poll, as a body makes before its socket blocks.
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        assert!(Pin::new(&mut sub).poll_next(&mut cx).is_ready());
        for _ in 0..1000 {
            hub.publish("s", ServerEvent::new().data("y".repeat(1000)))
                .unwrap();
        }
        let held: usize = sub.ready.iter().map(|e| e.as_bytes().len()).sum();
        assert!(held <= BATCH_BYTES, "{held} bytes held");
        assert!(!sub.ready.is_empty());
    }

    #[test]
    fn streams_only_subscribed_to_are_forgotten_with_their_last_subscriber() {
        let hub = hub(10);
        for n in 0..1000 {
            drop(hub.subscribe(&format!("session-{n}"), None));
        }
        assert!(lock(&hub.shared.streams).by_name.is_empty());
        // Kept while one subscriber is left, or once it has events.
        let a = hub.subscribe("a", None);
        let b = hub.subscribe("a", None);
        drop(a);
        assert_eq!(hub.subscribers("a"), 1);
        hub.publish("a", ServerEvent::new().data("1")).unwrap();
        drop(b);
        assert_eq!(hub.log_size("a").0, 1);
        // A subscriber of a forgotten stream's name is on a new stream,
        // where the publisher's events go.
        let primed = {
            let mut sub = hub.subscribe("b", None);
            read_id(&drain(&mut sub)[0])
        };
        let mut again = hub.subscribe("b", Some(&primed));
        assert_eq!(again.outcome(), Resume::Reset(ResetReason::OtherStream));
        let _ = drain(&mut again);
        hub.publish("b", ServerEvent::new().data("to b")).unwrap();
        assert_eq!(read(&drain(&mut again))[0].2, "to b");
    }

    #[test]
    fn each_hub_has_its_own_random_epoch_and_takes_no_other_hubs_ids() {
        let (a, b) = (Hub::new(), Hub::default());
        assert_ne!(a.epoch(), b.epoch());
        let id = a.publish("s", ServerEvent::new().data("1")).unwrap();
        assert!(id.starts_with(&format!("{:016x}-", a.epoch())), "{id}");
        b.publish("s", ServerEvent::new().data("1")).unwrap();
        assert_eq!(
            b.subscribe("s", Some(&id)).outcome(),
            Resume::Reset(ResetReason::Unknown)
        );
        // A set epoch is used as it is.
        assert_eq!(hub(1).epoch(), 0xabc);
    }

    #[test]
    fn reset_reasons_and_the_hub_describe_themselves() {
        for (why, name, text) in [
            (
                ResetReason::Lost,
                "lost",
                "the events after that id are no longer kept",
            ),
            (
                ResetReason::Unknown,
                "unknown",
                "that id was not issued by this hub in its current life",
            ),
            (
                ResetReason::OtherStream,
                "other-stream",
                "that id belongs to another stream",
            ),
        ] {
            assert_eq!(why.name(), name);
            assert_eq!(why.to_string(), text);
        }
        let hub = hub(7);
        let debug = format!("{hub:?}");
        assert!(debug.starts_with("Hub {"), "{debug}");
        assert!(debug.contains("epoch: 2748"), "{debug}");
        assert!(debug.contains("max_events: 7"), "{debug}");
        hub.publish("s", ServerEvent::new().data("1")).unwrap();
        let sub = hub.subscribe("s", Some("0000000000000abc-0-0"));
        assert_eq!(
            format!("{sub:?}"),
            "Subscription { outcome: Resumed { missed: 1 }, cursor: 1, .. }"
        );
    }

    #[test]
    fn the_log_keeps_up_to_max_bytes_of_events_and_always_the_newest() {
        let size = Encoded::new(&ServerEvent::new().id("0000000000000abc-0-1").data("x"))
            .unwrap()
            .as_bytes()
            .len();
        let hub = Hub::with_config(
            HubConfig::default()
                .max_events(100)
                .max_bytes(3 * size)
                .epoch(0xabc),
        );
        assert_eq!(hub.log_size("s"), (0, 0));
        for _ in 0..3 {
            hub.publish("s", ServerEvent::new().data("x")).unwrap();
        }
        // Exactly full: all three kept.
        assert_eq!(hub.log_size("s"), (3, 3 * size));
        hub.publish("s", ServerEvent::new().data("x")).unwrap();
        assert_eq!(hub.log_size("s"), (3, 3 * size));
        let mut sub = hub.subscribe_with_backlog("s", None);
        assert_eq!(read(&drain(&mut sub)).len(), 3);
        // An event larger than the bound is kept alone, and sent.
        let big = "y".repeat(10 * size);
        let id = hub
            .publish("s", ServerEvent::new().data(big.clone()))
            .unwrap();
        let big_size = Encoded::new(&ServerEvent::new().id(id).data(big.clone()))
            .unwrap()
            .as_bytes()
            .len();
        assert_eq!(hub.log_size("s"), (1, big_size));
        assert_eq!(read(&drain(&mut sub))[0].2, big);
        let mut late = hub.subscribe_with_backlog("s", None);
        assert_eq!(read(&drain(&mut late))[0].2, big);
    }

    /// Publishes `1..=events` to stream `s` as the data, yielding every
    /// `every` events so that subscribers run in between.
    fn publish_numbers(hub: &Hub, events: u64, every: u64) -> tokio::task::JoinHandle<()> {
        let hub = hub.clone();
        tokio::spawn(async move {
            for n in 1..=events {
                hub.publish("s", ServerEvent::new().data(format!("{n}")))
                    .unwrap();
                if n % every == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    }

    /// The id of a block of only an id.
    fn read_id(e: &Encoded) -> String {
        let text = core::str::from_utf8(e.as_bytes()).unwrap();
        text.trim_start_matches("id: ").trim_end().to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_a_small_log_subscribers_see_events_in_order_and_every_gap_is_a_reset() {
        const EVENTS: u64 = 20_000;
        let hub = Hub::with_config(HubConfig::default().max_events(16));
        let publisher = publish_numbers(&hub, EVENTS, 8);
        let mut clients = Vec::new();
        for k in 0..8u64 {
            let hub = hub.clone();
            clients.push(tokio::spawn(async move {
                let mut last: Option<String> = None;
                let mut prev = 0u64;
                let (mut seen, mut resets, mut items) = (0u64, 0u64, 0u64);
                let mut rng = (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                while prev < EVENTS {
                    let mut sub = hub.subscribe_with_backlog("s", last.as_deref());
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let mut after_reset = matches!(sub.outcome(), Resume::Reset(_));
                    for _ in 0..1 + rng % 300 {
                        // A stream that is not closed never ends: a
                        // subscription that did would loop here for ever.
                        let e = sub.next().await.expect("the stream goes on");
                        // No more than one reset per event, give or take:
                        // a subscription that resets for ever (and starves
                        // the publisher) fails here instead of hanging.
                        items += 1;
                        assert!(items < 10 * EVENTS, "{resets} resets, {seen} events");
                        match read(core::slice::from_ref(&e)).pop() {
                            Some((id, t, _)) if t == "reset" => {
                                // Positioned at the newest event: the
                                // ones up to it are gone for this client.
                                let at: u64 = id.rsplit('-').next().unwrap().parse().unwrap();
                                assert!(at >= prev);
                                prev = at;
                                resets += 1;
                                after_reset = true;
                                last = Some(id);
                            }
                            Some((id, _, data)) => {
                                let n: u64 = data.parse().unwrap();
                                assert!(
                                    n == prev + 1 || (after_reset && n > prev),
                                    "{prev} then {n} without a reset"
                                );
                                prev = n;
                                seen += 1;
                                after_reset = false;
                                last = Some(id);
                            }
                            None => {
                                // The priming block of a new client: it
                                // starts after the oldest event the log
                                // still holds, which the publisher may
                                // have moved past event 1 already.
                                let id = read_id(&e);
                                let at: u64 = id.rsplit('-').next().unwrap().parse().unwrap();
                                assert!(at >= prev);
                                prev = at;
                                last = Some(id);
                            }
                        }
                        if prev == EVENTS {
                            break;
                        }
                    }
                }
                (seen, resets)
            }));
        }
        publisher.await.unwrap();
        for client in clients {
            let (seen, _resets) = tokio::time::timeout(std::time::Duration::from_secs(60), client)
                .await
                .expect("bounded")
                .unwrap();
            assert!(seen > 0);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn subscribers_resuming_at_random_points_get_every_event_once_in_order() {
        const EVENTS: u64 = 10_000;
        const SUBSCRIBERS: u64 = 50;
        let hub = Hub::with_config(HubConfig::default().max_events(EVENTS as usize));
        let publisher = publish_numbers(&hub, EVENTS, 64);
        let mut clients = Vec::new();
        for k in 0..SUBSCRIBERS {
            let hub = hub.clone();
            clients.push(tokio::spawn(async move {
                // Each reconnects after a pseudo-random number of events.
                let mut rng = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut seen: Vec<u64> = Vec::new();
                let mut last: Option<String> = None;
                let mut connections = 0;
                while seen.last() != Some(&EVENTS) {
                    connections += 1;
                    let mut sub = hub.subscribe_with_backlog("s", last.as_deref());
                    assert!(
                        !matches!(sub.outcome(), Resume::Reset(_)),
                        "{:?}",
                        sub.outcome()
                    );
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let take = 1 + rng % 700;
                    let mut got = 0;
                    while got < take && seen.last() != Some(&EVENTS) {
                        let e = sub.next().await.expect("the stream goes on");
                        let events = read(core::slice::from_ref(&e));
                        if let Some((id, _, data)) = events.into_iter().next() {
                            // Checked as it comes: a client that got one
                            // twice could otherwise read on for ever.
                            let n: u64 = data.parse().unwrap();
                            assert_eq!(n, seen.last().map_or(1, |l| l + 1), "in order, once");
                            seen.push(n);
                            last = Some(id);
                            got += 1;
                        } else {
                            // The priming block: the position to resume from.
                            last = Some(read_id(&e));
                        }
                    }
                }
                (seen, connections)
            }));
        }
        publisher.await.unwrap();
        for client in clients {
            let (seen, connections) =
                tokio::time::timeout(std::time::Duration::from_secs(60), client)
                    .await
                    .expect("bounded")
                    .unwrap();
            assert!(connections > 2);
            assert_eq!(seen, (1..=EVENTS).collect::<Vec<_>>());
        }
    }

    fn keyed(max_events: usize) -> KeyedHub {
        KeyedHub::new(HubConfig::default().max_events(max_events))
    }

    /// The event at position `n`, whose id and data are `n`.
    fn numbered(n: u128) -> ServerEvent {
        ServerEvent::new().id(format!("{n}")).data(format!("{n}"))
    }

    /// The data of each event, as numbers.
    fn numbers(encoded: &[Encoded]) -> Vec<u128> {
        read(encoded)
            .iter()
            .map(|(_, _, d)| d.parse().unwrap())
            .collect()
    }

    /// Polls once: `Some(None)` when the subscription has ended.
    fn poll_once(sub: &mut Subscription) -> Option<Option<Encoded>> {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        match Pin::new(sub).poll_next(&mut cx) {
            Poll::Ready(item) => Some(item),
            Poll::Pending => None,
        }
    }

    #[test]
    fn a_keyed_hub_resumes_from_memory_after_any_position_it_holds() {
        let hub = keyed(10);
        hub.follow("s", 100);
        assert_eq!(hub.position("s"), 100);
        for n in [103, 107, 110] {
            assert!(hub.publish("s", n, numbered(n)).unwrap());
        }
        assert_eq!(hub.position("s"), 110);
        // At the followed position, between events, on one, at the end.
        for (after, want) in [
            (100, vec![103, 107, 110]),
            (105, vec![107, 110]),
            (107, vec![110]),
            (110, vec![]),
        ] {
            let mut sub = hub.subscribe("s", Some(after));
            let missed = want.len() as u64;
            assert_eq!(sub.outcome(), Resume::Resumed { missed }, "{after}");
            assert_eq!(numbers(&drain(&mut sub)), want, "{after}");
            assert!(poll_once(&mut sub).is_none(), "waits for more");
            assert_eq!(sub.behind(), None);
        }
        let mut sub = hub.subscribe("s", Some(107));
        hub.publish("s", 111, numbered(111)).unwrap();
        assert_eq!(numbers(&drain(&mut sub)), vec![110, 111]);
        // Before the followed position: the application catches up.
        let mut sub = hub.subscribe("s", Some(99));
        assert_eq!(sub.outcome(), Resume::Behind);
        assert!(matches!(poll_once(&mut sub), Some(None)));
        assert_eq!(sub.behind(), Some(99));
        // The event's own id is sent, not the hub's.
        let mut sub = hub.subscribe("s", Some(300));
        hub.publish("s", 400, numbered(400)).unwrap();
        assert_eq!(read(&drain(&mut sub))[0].0, "400");
    }

    #[test]
    fn a_keyed_hub_publishes_each_position_once_and_in_order() {
        let hub = keyed(10);
        let mut sub = hub.subscribe("s", None);
        assert_eq!(sub.outcome(), Resume::New);
        assert!(
            !hub.publish("s", 0, numbered(0)).unwrap(),
            "0 is before every event"
        );
        assert!(hub.publish("s", 5, numbered(5)).unwrap());
        assert!(!hub.publish("s", 5, numbered(5)).unwrap(), "again");
        assert!(!hub.publish("s", 4, numbered(4)).unwrap(), "earlier");
        assert!(hub
            .publish("s", 6, ServerEvent::new().event("a\nb"))
            .is_err());
        assert!(
            hub.publish("s", 6, numbered(6)).unwrap(),
            "a refusal takes no place"
        );
        hub.follow("s", 6);
        hub.follow("s", 2);
        assert!(!hub.publish("s", 6, numbered(6)).unwrap());
        assert_eq!(numbers(&drain(&mut sub)), vec![5, 6]);
        assert_eq!(hub.log_size("s").0, 2);
    }

    #[test]
    fn a_keyed_subscriber_that_falls_behind_ends_after_the_last_event_it_sent() {
        let hub = keyed(4);
        hub.follow("s", 0);
        let mut idle = hub.subscribe("s", Some(0));
        let mut reader = hub.subscribe("s", Some(0));
        hub.publish("s", 1, numbered(1)).unwrap();
        hub.publish("s", 2, numbered(2)).unwrap();
        assert_eq!(numbers(&drain(&mut reader)), vec![1, 2]);
        for n in 3..=10 {
            hub.publish("s", n, numbered(n)).unwrap();
        }
        for (sub, last) in [(&mut idle, 0), (&mut reader, 2)] {
            assert!(matches!(poll_once(sub), Some(None)));
            assert_eq!(sub.behind(), Some(last));
            assert!(matches!(poll_once(sub), Some(None)), "stays ended");
        }
        // The log holds 7 to 10: after 6 it resumes, after 5 it cannot.
        assert_eq!(
            hub.subscribe("s", Some(6)).outcome(),
            Resume::Resumed { missed: 4 }
        );
        assert_eq!(hub.subscribe("s", Some(5)).outcome(), Resume::Behind);
    }

    #[test]
    fn a_gap_the_publisher_declares_ends_every_subscription_behind() {
        let hub = keyed(10);
        hub.follow("s", 10);
        let mut caught_up = hub.subscribe("s", Some(10));
        let mut lagging = hub.subscribe("s", Some(10));
        hub.publish("s", 11, numbered(11)).unwrap();
        assert_eq!(numbers(&drain(&mut caught_up)), vec![11]);
        // The publisher lost 12 to 19.
        hub.follow("s", 19);
        assert_eq!(hub.log_size("s"), (0, 0));
        assert!(matches!(poll_once(&mut caught_up), Some(None)));
        assert_eq!(caught_up.behind(), Some(11));
        assert!(matches!(poll_once(&mut lagging), Some(None)));
        assert_eq!(lagging.behind(), Some(10));
        assert_eq!(hub.subscribe("s", Some(18)).outcome(), Resume::Behind);
        let mut after = hub.subscribe("s", Some(19));
        assert_eq!(after.outcome(), Resume::Resumed { missed: 0 });
        hub.publish("s", 20, numbered(20)).unwrap();
        assert_eq!(numbers(&drain(&mut after)), vec![20]);
    }

    #[test]
    fn a_gap_before_any_event_and_a_follow_after_unfollowed_events_are_gaps_too() {
        // Followed at 10, then a gap to 20 before any event: a client at 10
        // missed 11 to 20 and must be caught up.
        let hub = keyed(10);
        hub.follow("s", 10);
        let mut sub = hub.subscribe("s", Some(10));
        hub.follow("s", 20);
        assert!(matches!(poll_once(&mut sub), Some(None)));
        assert_eq!(sub.behind(), Some(10));
        assert_eq!(hub.subscribe("s", Some(10)).outcome(), Resume::Behind);
        // Events published with no follow, then a follow: at or before the
        // last event it changes nothing, after it it is a gap.
        let hub = keyed(10);
        hub.publish("s", 5, numbered(5)).unwrap();
        let mut sub = hub.subscribe("s", Some(5));
        hub.follow("s", 3);
        hub.follow("s", 5);
        assert_eq!(hub.position("s"), 5);
        assert!(poll_once(&mut sub).is_none(), "no gap");
        hub.follow("s", 9);
        assert!(matches!(poll_once(&mut sub), Some(None)));
        assert_eq!(sub.behind(), Some(5));
    }

    #[test]
    fn a_keyed_client_ahead_of_the_hub_gets_nothing_twice() {
        // A client from an instance whose reader is ahead of this one's.
        let hub = keyed(10);
        hub.follow("s", 1);
        let mut sub = hub.subscribe("s", Some(3));
        assert_eq!(sub.outcome(), Resume::Resumed { missed: 0 });
        for n in 2..=5 {
            hub.publish("s", n, numbered(n)).unwrap();
        }
        assert_eq!(numbers(&drain(&mut sub)), vec![4, 5]);
    }

    #[test]
    fn a_followed_stream_is_kept_without_subscribers_and_a_closed_one_ends_them() {
        let hub = keyed(10);
        hub.follow("s", 7);
        drop(hub.subscribe("s", Some(7)));
        assert_eq!(hub.position("s"), 7);
        assert_eq!(
            hub.subscribe("s", Some(7)).outcome(),
            Resume::Resumed { missed: 0 }
        );
        // Never followed nor published to: forgotten with its subscriber.
        drop(hub.subscribe("t", Some(7)));
        assert_eq!(hub.position("t"), 0);
        assert_eq!(hub.subscribers("s"), 0);
        let mut sub = hub.subscribe("s", Some(7));
        let other = hub.subscribe("s", None);
        assert_eq!(hub.subscribers("s"), 2);
        drop(other);
        assert_eq!(hub.subscribers("s"), 1);
        hub.close("s");
        assert!(matches!(poll_once(&mut sub), Some(None)));
        assert_eq!(sub.behind(), None, "closed, not behind");
    }

    /// The application's side: a durable log of every event, a hub that
    /// keeps the last 3, and clients that read at their own pace, caught
    /// up from the durable log whenever their subscription ends behind.
    #[test]
    fn keyed_clients_caught_up_from_the_durable_log_get_every_event_once_in_order() {
        const EVENTS: u128 = 2_000;
        let hub = keyed(3);
        hub.follow("s", 0);
        let durable: Vec<u128> = (1..=EVENTS).collect();
        struct Client {
            sub: Subscription,
            seen: Vec<u128>,
            catch_ups: usize,
        }
        let mut clients: Vec<Client> = (0..8)
            .map(|_| Client {
                sub: hub.subscribe("s", Some(0)),
                seen: Vec::new(),
                catch_ups: 0,
            })
            .collect();
        let mut rng = 0x2545_f491_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for n in 1..=EVENTS {
            hub.publish("s", n, numbered(n)).unwrap();
            for (i, c) in clients.iter_mut().enumerate() {
                // Client i reads after about one event in i + 1.
                if next() % (i as u64 + 1) != 0 {
                    continue;
                }
                loop {
                    match poll_once(&mut c.sub) {
                        Some(Some(e)) => c.seen.extend(numbers(&[e])),
                        Some(None) => {
                            let after = c.sub.behind().expect("ended behind");
                            assert_eq!(after, c.seen.last().copied().unwrap_or(0));
                            // Catch up from the durable log to where it is now.
                            let upto = hub.position("s");
                            c.seen
                                .extend(durable.iter().filter(|&&p| p > after && p <= upto));
                            c.catch_ups += 1;
                            c.sub = hub.subscribe("s", Some(upto));
                        }
                        None => break,
                    }
                }
            }
        }
        for c in &mut clients {
            c.seen.extend(numbers(&drain(&mut c.sub)));
            if let Some(after) = c.sub.behind() {
                c.seen.extend(durable.iter().filter(|&&p| p > after));
            }
        }
        for (i, c) in clients.iter().enumerate() {
            assert_eq!(c.seen, durable, "client {i}");
            if i > 2 {
                assert!(c.catch_ups > 0, "client {i} never fell behind");
            }
        }
        assert_eq!(clients[0].catch_ups, 0, "the client that reads every event");
    }
}
