//! `redis-fanout`: one instance of the service. Run several on different
//! ports against one Redis; see the README.

use std::time::Duration;

use redis_fanout::{serve, Config, Fanout, Mode, ServerConfig};
use sse_proto::server::EndAfter;

const USAGE: &str = "usage: redis-fanout [--redis URL] [--listen ADDR] [--stream KEY]
                    [--retry-ms MS] [--keep-alive-s S]
                    [--poll-events N] [--poll-seconds S] [--max-streaming K]

  --redis URL          Redis to use (default redis://127.0.0.1:6379/)
  --listen ADDR        address to serve on (default 127.0.0.1:8080; port 0: any)
  --stream KEY         the Redis stream (default events)
  --retry-ms MS        retry sent at the start of each stream (default 1000)
  --keep-alive-s S     keep-alive comment after S s without an event (default 15)
  --poll-events N      polling: end each response after N events
  --poll-seconds S     polling: end each response after S seconds
  --max-streaming K    with a polling limit: stream the first K connections,
                       poll the ones over K

Prints `listening on http://ADDR` once it serves. GET /events is the stream
(resumed after Last-Event-ID); POST /publish?event=TYPE adds the body.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut redis = "redis://127.0.0.1:6379/".to_owned();
    let mut listen = "127.0.0.1:8080".to_owned();
    let mut config = Config::new("events");
    let mut server = ServerConfig::default();
    let (mut poll_events, mut poll_seconds, mut max_streaming) = (None, None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            return;
        }
        let Some(value) = it.next() else {
            fail(&format!("{flag} needs a value"));
        };
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| fail(&format!("{flag} takes a whole number, not {value:?}")))
        };
        match flag.as_str() {
            "--redis" => redis = value.clone(),
            "--listen" => listen = value.clone(),
            "--stream" => config.stream = value.clone(),
            "--retry-ms" => config.retry = Some(Duration::from_millis(number())),
            "--keep-alive-s" => server.keep_alive = Some(Duration::from_secs(number())),
            "--poll-events" => poll_events = Some(number()),
            "--poll-seconds" => poll_seconds = Some(Duration::from_secs(number())),
            "--max-streaming" => max_streaming = Some(number() as usize),
            _ => fail(&format!("unknown flag {flag}")),
        }
    }
    let polling = match (poll_events, poll_seconds) {
        (Some(n), Some(t)) => Some(EndAfter::events(n).or_time(t)),
        (Some(n), None) => Some(EndAfter::events(n)),
        (None, Some(t)) => Some(EndAfter::time(t)),
        (None, None) => None,
    }
    .map(|end| end.retry(config.retry.unwrap_or(Duration::from_secs(1))));
    server.mode = match (polling, max_streaming) {
        (None, None) => Mode::Streaming,
        (None, Some(_)) => fail("--max-streaming needs --poll-events or --poll-seconds"),
        (Some(end), None) => Mode::Polling(end),
        (Some(polling), Some(max_streaming)) => Mode::Auto {
            max_streaming,
            polling,
        },
    };

    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| fail(&e.to_string()));
    runtime.block_on(async move {
        let client = redis::Client::open(redis.as_str())
            .unwrap_or_else(|e| fail(&format!("bad --redis {redis:?}: {e}")));
        let fanout = Fanout::start(client, config)
            .await
            .unwrap_or_else(|e| fail(&format!("cannot reach Redis at {redis}: {e}")));
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .unwrap_or_else(|e| fail(&format!("cannot listen on {listen}: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| fail(&e.to_string()));
        println!("listening on http://{addr}");
        tokio::select! {
            () = serve(listener, fanout, server) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
}

fn fail(message: &str) -> ! {
    eprintln!("redis-fanout: {message}\n\n{USAGE}");
    std::process::exit(2);
}
