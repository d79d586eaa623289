//! The demo ticker server: `cargo run -p sse-cat --example ticker_server [ADDR]`
//! (127.0.0.1:8080 by default), then open the address in a browser or run
//! `sse-cat http://ADDR/events`.

use sse_cat::demo::{serve, DemoConfig};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "ticker on http://{}/ (events at /events); Ctrl-C to stop",
        listener.local_addr()?
    );
    let _demo = serve(listener, DemoConfig::default());
    tokio::signal::ctrl_c().await
}
