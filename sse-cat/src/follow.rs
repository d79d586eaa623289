//! `sse-cat URL`: follows a live stream with the reconnecting client.

use std::io::{self, BufWriter};
use std::time::Duration;

use futures_util::StreamExt;
use http::header::{HeaderName, HeaderValue};
use sse_proto::client::hyper::HyperConnector;
use sse_proto::client::{Client, Method, Update};
use sse_proto::session::{Config, StopReason};

use crate::{printable, Args, Failure, Printer, Summary};

/// Follows `url` until the server says stop (204), the session gives up, or
/// Ctrl-C.
pub fn follow(args: &Args, url: &str) -> Result<Summary, Failure> {
    let connector = HyperConnector::new(url).map_err(|e| Failure::Usage(e.report().to_string()))?;
    let mut config = Config::default()
        .max_event_size(args.max_event_size)
        .max_attempts(args.max_attempts)
        .retry_server_errors(args.retry_server_errors);
    if let Some(timeout) = timeout("--idle-timeout", args.idle_timeout)? {
        config = config.idle_timeout(timeout);
    }
    if let Some(timeout) = timeout("--connect-timeout", args.connect_timeout)? {
        config = config.connect_timeout(timeout);
    }
    let mut client = Client::new(connector, config);
    if let Some(method) = &args.method {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|e| Failure::Usage(format!("invalid method {method:?}: {e}")))?;
        client = client.method(method);
    }
    if let Some(data) = &args.data {
        let body = match data.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|error| Failure::Input {
                what: path.to_owned(),
                error,
            })?,
            None => data.clone().into_bytes(),
        };
        client = client.body(body);
        if args.method.is_none() {
            // As curl does: a body makes it a POST.
            client = client.method(Method::POST);
        }
    }
    for header in &args.headers {
        let (name, value) = parse_header(header).map_err(Failure::Usage)?;
        client = client
            .header(name, value)
            .map_err(|e| Failure::Usage(e.report().to_string()))?;
    }
    if let Some(id) = &args.last_event_id {
        client = client.with_last_event_id(id.clone());
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)?;
    let mut out = Printer {
        out: BufWriter::new(io::stdout().lock()),
        json: args.json,
    };
    let mut summary = Summary { oversized: 0 };
    runtime.block_on(async {
        let updates = client.updates();
        let mut updates = std::pin::pin!(updates);
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            let update = tokio::select! {
                update = updates.next() => update,
                _ = &mut interrupt => {
                    eprintln!("sse-cat: interrupted");
                    out.flush()?;
                    return Err(Failure::Interrupted);
                }
            };
            match update {
                Some(Update::Event(event)) => {
                    out.event(&event)?;
                    out.flush()?;
                }
                Some(Update::Connecting {
                    attempt,
                    last_event_id,
                }) => match last_event_id {
                    Some(id) => eprintln!(
                        "sse-cat: connecting to {url} (attempt {attempt}, Last-Event-ID: {})",
                        printable(&id)
                    ),
                    None => eprintln!("sse-cat: connecting to {url} (attempt {attempt})"),
                },
                Some(Update::Opened) => eprintln!("sse-cat: connected"),
                Some(Update::Disconnected {
                    reason,
                    retry_in,
                    error,
                }) => {
                    let error = error
                        .map(|e| format!(": {}", printable(&e.report().to_string())))
                        .unwrap_or_default();
                    eprintln!(
                        "sse-cat: disconnected ({reason:?}{error}); reconnecting in {retry_in:?}"
                    );
                }
                Some(Update::Skipped(e)) => {
                    summary.oversized += 1;
                    eprintln!("sse-cat: {e}");
                }
                Some(Update::Stopped {
                    reason: StopReason::NoContent,
                    ..
                }) => {
                    eprintln!("sse-cat: the server answered 204: done");
                    return out.flush();
                }
                Some(Update::Stopped { reason, error }) => {
                    out.flush()?;
                    let why = match error {
                        Some(error) => printable(&error.report().to_string()).into_owned(),
                        None => format!("{reason:?}"),
                    };
                    return Err(Failure::Stopped(why));
                }
                Some(_) => {}
                None => return out.flush(),
            }
        }
    })?;
    Ok(summary)
}

/// A timeout flag: `None` when absent (the default stays), `Some(None)` for
/// 0 (never), `Some(Some(d))` otherwise.
fn timeout(flag: &str, secs: Option<f64>) -> Result<Option<Option<Duration>>, Failure> {
    let Some(secs) = secs else {
        return Ok(None);
    };
    if secs == 0.0 {
        return Ok(Some(None));
    }
    Duration::try_from_secs_f64(secs)
        .map(|d| Some(Some(d)))
        .map_err(|e| Failure::Usage(format!("invalid {flag} {secs}: {e}")))
}

fn parse_header(header: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = header
        .split_once(':')
        .ok_or_else(|| format!("invalid header {header:?}: expected \"Name: value\""))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| format!("invalid header name in {header:?}: {e}"))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|e| format!("invalid header value in {header:?}: {e}"))?;
    Ok((name, value))
}
