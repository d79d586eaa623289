//! An example service: events published into a [Redis Stream] and served
//! over SSE by any number of instances, each SSE `id` being the Redis entry
//! ID, so that a client that reconnects to *another* instance with
//! `Last-Event-ID` resumes exactly where it left off.
//!
//! - [`Fanout`]: one `XREAD BLOCK` reader per instance, fanned out to all of
//!   its clients through a `sse_proto::server::KeyedHub` that keeps the
//!   last entries in memory; a client that connects with `Last-Event-ID` is
//!   resumed from there, or first catches up with `XRANGE` from that ID and
//!   then joins the hub, with no gap and no duplicate at the seam. A client whose ID was trimmed away gets
//!   the documented [`RESET_EVENT`] signal.
//! - [`serve`]: `GET /events` and `POST /publish` over hyper, streaming or
//!   polling per connection ([`Mode`]).
//! - [`local`]: a throwaway `redis-server` for the tests and the load tool.
//!
//! Needs Redis 7 or later (`XINFO STREAM` reports `max-deleted-entry-id`,
//! which tells a trimmed ID from a current one).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use redis_fanout::{serve, Config, Fanout, ServerConfig};
//!
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let fanout = Fanout::start(client, Config::new("events")).await?;
//! fanout.publish(Some("greeting"), "hello").await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, fanout, ServerConfig::default()).await;
//! # Ok(()) }
//! ```
//!
//! [Redis Stream]: https://redis.io/docs/latest/develop/data-types/streams/

mod fanout;
mod id;
pub mod local;
mod server;

pub use fanout::{Config, Entry, Fanout, Subscription, RESET_EVENT};
pub use id::{BadEntryId, EntryId};
pub use server::{serve, Mode, ServerConfig};
