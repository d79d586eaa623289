//! The reconnecting client over reqwest instead of sse-cat's hyper
//! connector: a `Connector` is all a stack needs to provide.
//!
//! ```sh
//! cargo run -p sse-cat --example reqwest_client -- http://127.0.0.1:8080/events
//! ```

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sse_proto::client::{Client, Connector, Response, Update};
use sse_proto::session::{Config, Connect};

/// Opens each attempt's request with reqwest.
struct Reqwest {
    client: reqwest::Client,
    url: String,
}

impl Connector for Reqwest {
    type Body = BoxStream<'static, Result<Bytes, reqwest::Error>>;
    type Error = reqwest::Error;

    async fn connect(&self, request: &Connect) -> Result<Response<Self::Body>, reqwest::Error> {
        let mut builder = self.client.get(&self.url);
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        let response = builder.send().await?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| Bytes::copy_from_slice(v.as_bytes()))
        };
        Ok(Response {
            status: response.status().as_u16(),
            content_type: header(reqwest::header::CONTENT_TYPE),
            retry_after: header(reqwest::header::RETRY_AFTER),
            body: response.bytes_stream().boxed(),
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: reqwest_client URL");
        std::process::exit(2);
    };
    let connector = Reqwest {
        client: reqwest::Client::new(),
        url,
    };
    let mut updates = std::pin::pin!(Client::new(connector, Config::default()).updates());
    while let Some(update) = updates.next().await {
        match update {
            Update::Event(event) => println!("{}: {}", event.event_type(), event.data()),
            other => eprintln!("{other:?}"),
        }
    }
}
