//! The 10-line client: prints the events of a stream, reconnecting and
//! resuming on its own (`cargo run -p sse-proto --example client --features reqwest`).

use futures_util::StreamExt;
use sse_proto::client::Client;

#[tokio::main]
async fn main() -> Result<(), sse_proto::client::Error> {
    let mut events = Client::get("http://127.0.0.1:8080/events")?.events();
    while let Some(event) = events.next().await {
        let event = event?;
        println!("{}: {}", event.event_type(), event.data());
    }
    Ok(())
}
