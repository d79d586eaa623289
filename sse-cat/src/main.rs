//! `sse-cat`: shows the events of a Server-Sent Events stream.
//!
//! It reads a `text/event-stream` from a file or standard input, runs it
//! through the `sse-proto` decoder and prints the events for a person, or with
//! `--json` one JSON object a line for a program:
//!
//! ```text
//! {"type":"message","data":"hello","last_event_id":"1"}
//! {"retry_ms":2000}
//! ```
//!
//! `--chunk-size N` feeds the decoder N bytes at a time, to reproduce a stream
//! cut into small network packets: the output must not change.
//!
//! `--encode` goes the other way: it reads JSON lines in the `--json` format
//! and writes the stream, so `sse-cat --encode | sse-cat --json` gives back
//! its input.
//!
//! Given an `http://` or `https://` URL instead of a file, it follows the
//! live stream with the reconnecting client, resuming with `Last-Event-ID`
//! after a drop, and reports the connection's state on standard error.

mod encode;
mod follow;

use std::fs::File;
use std::io::{self, BufReader, BufWriter, ErrorKind, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use serde::Serialize;
use sse_proto::{DecodeError, Decoder, Event, Frame, DEFAULT_MAX_EVENT_SIZE};

/// Show the events of a Server-Sent Events (text/event-stream) stream.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None, after_help = EXAMPLES)]
struct Args {
    /// The stream to read: a file, `-` (the default) for standard input, or
    /// an http:// or https:// URL to follow live.
    input: Option<PathBuf>,

    /// Print one JSON object a line: `{"type", "data", "last_event_id"}` for
    /// each event, `{"retry_ms"}` for each valid `retry` field.
    #[arg(long)]
    json: bool,

    /// Feed the decoder N bytes at a time (as if the stream came in packets
    /// of N bytes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    chunk_size: Option<u64>,

    /// Read JSON lines in the `--json` format and write the event stream.
    #[arg(long, conflicts_with_all = ["json", "chunk_size", "max_event_size"])]
    encode: bool,

    /// URL only: a header to send with every request ("Name: value"); may be
    /// given more than once.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,

    /// URL only: resume from this event ID (sent as Last-Event-ID).
    #[arg(long, value_name = "ID")]
    last_event_id: Option<String>,

    /// URL only: the request method (default GET).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,

    /// URL only: the request body, sent with every attempt; `@FILE` reads it
    /// from a file (as curl does).
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    data: Option<String>,

    /// URL only: reconnect when no bytes (not even a comment) arrive for
    /// this many seconds (default 300; 0 never).
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<f64>,

    /// URL only: give up on an attempt whose response head has not come in
    /// this many seconds (default 30; 0 never).
    #[arg(long, value_name = "SECONDS")]
    connect_timeout: Option<f64>,

    /// URL only: stop after this many attempts without a healthy connection.
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,

    /// URL only: retry every 5xx, and a 200 that is not text/event-stream,
    /// instead of stopping (429, 502, 503 and 504 are always retried,
    /// honouring Retry-After).
    #[arg(long)]
    retry_server_errors: bool,

    /// The largest event to accept, in bytes of field values; larger events
    /// are reported on standard error and skipped.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_EVENT_SIZE)]
    max_event_size: usize,
}

/// The modes, one example each, under `--help`.
const EXAMPLES: &str = "\
Examples:
  Show the events of a file (or of standard input, with no FILE or with -):
    sse-cat stream.sse
    curl -sN https://example.com/events | sse-cat
  One JSON object a line, for programs (jq, scripts):
    sse-cat --json stream.sse
  Feed the decoder one byte at a time (the output must not change):
    sse-cat --chunk-size 1 stream.sse
  Turn JSON lines back into a stream (the inverse of --json):
    sse-cat --json stream.sse | sse-cat --encode
  Follow a live stream, reconnecting and resuming with Last-Event-ID:
    sse-cat http://127.0.0.1:8080/events
  POST a JSON body, as LLM APIs take (re-sent on every reconnect):
    sse-cat -X POST -H 'Content-Type: application/json' -d '{\"stream\":true}' https://example.com/v1/chat
    sse-cat -X POST -d @request.json https://example.com/v1/chat
    sse-cat -H 'Authorization: Bearer TOKEN' --idle-timeout 45 --max-attempts 5 https://example.com/events";

/// One line of `--json` output for an event; fields in this order.
#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a str,
    last_event_id: &'a str,
}

/// One line of `--json` output for a `retry` field.
#[derive(Serialize)]
struct JsonRetry {
    retry_ms: u64,
}

/// Why `sse-cat` stopped.
#[derive(Debug)]
enum Failure {
    /// The input could not be opened or read.
    Input { what: String, error: io::Error },
    /// Standard output went away (a closed pipe): stop quietly.
    OutputClosed,
    /// Standard output failed otherwise.
    Output(io::Error),
    /// An `--encode` input line is not a valid event.
    Invalid {
        what: String,
        line: usize,
        reason: String,
    },
    /// The command line asks for something impossible.
    Usage(String),
    /// A followed stream stopped for good, not by the server's 204.
    Stopped(String),
    /// Ctrl-C.
    Interrupted,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(Summary { oversized: 0, .. }) => ExitCode::SUCCESS,
        Ok(Summary { oversized, .. }) => {
            eprintln!("sse-cat: {oversized} event(s) over --max-event-size were skipped");
            ExitCode::FAILURE
        }
        Err(Failure::OutputClosed) => ExitCode::SUCCESS,
        Err(Failure::Input { what, error }) => {
            eprintln!("sse-cat: cannot read {what}: {error}");
            ExitCode::FAILURE
        }
        Err(Failure::Output(error)) => {
            eprintln!("sse-cat: cannot write to standard output: {error}");
            ExitCode::FAILURE
        }
        Err(Failure::Invalid { what, line, reason }) => {
            eprintln!("sse-cat: {what}, line {line}: {reason}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(message)) => {
            eprintln!("sse-cat: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Stopped(reason)) => {
            eprintln!("sse-cat: stopped: {reason}");
            ExitCode::FAILURE
        }
        // 128 + SIGINT, as shells report it.
        Err(Failure::Interrupted) => ExitCode::from(130),
    }
}

/// What a run saw, beyond what it printed.
struct Summary {
    oversized: usize,
}

fn run(args: &Args) -> Result<Summary, Failure> {
    if let Some(input) = args.input.as_ref().and_then(|p| p.to_str()) {
        match url_kind(input) {
            UrlKind::Http => return follow::follow(args, input),
            UrlKind::Other(scheme) => {
                return Err(Failure::Usage(format!(
                    "cannot follow {input}: the scheme {scheme:?} is not http or https"
                )))
            }
            UrlKind::NoScheme if !args.input.as_ref().is_some_and(|p| p.exists()) => {
                return Err(Failure::Usage(format!(
                    "{input} is neither a file nor a URL; to follow it, say http://{input}"
                )))
            }
            UrlKind::NoScheme | UrlKind::Path => {}
        }
    }
    if args.method.is_some() || args.data.is_some() {
        return Err(Failure::Usage(
            "-X and -d are for following a URL (http:// or https://)".into(),
        ));
    }
    let (what, input) = open(args)?;
    if args.encode {
        let mut out = BufWriter::new(io::stdout().lock());
        return match encode::encode_lines(BufReader::new(input), &mut out) {
            Ok(_) => Ok(Summary { oversized: 0 }),
            Err(encode::EncodeFailure::Read(error)) => Err(Failure::Input { what, error }),
            Err(encode::EncodeFailure::Write(error)) => Err(output_failure(error)),
            Err(encode::EncodeFailure::Invalid { line, reason }) => {
                let _ = out.flush();
                Err(Failure::Invalid { what, line, reason })
            }
        };
    }
    decode(args, what, input)
}

/// The input named on the command line, and how to name it in messages.
fn open(args: &Args) -> Result<(String, Box<dyn Read>), Failure> {
    let stdin = || -> (String, Box<dyn Read>) {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            // A bare `sse-cat` typed at a prompt would otherwise sit silent.
            eprintln!(
                "sse-cat: reading a stream from standard input (Ctrl-D ends it; \
                 sse-cat --help shows the other modes)"
            );
        }
        ("standard input".into(), Box::new(stdin.lock()))
    };
    Ok(match &args.input {
        None => stdin(),
        Some(p) if p.as_os_str() == "-" => stdin(),
        Some(p) => {
            let what = format!("{}", p.display());
            match File::open(p) {
                Ok(f) => (what, Box::new(f)),
                Err(error) => return Err(Failure::Input { what, error }),
            }
        }
    })
}

fn decode(args: &Args, what: String, mut input: Box<dyn Read>) -> Result<Summary, Failure> {
    let chunk_size = args
        .chunk_size
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));

    let stdout = io::stdout().lock();
    let mut out = Printer {
        out: BufWriter::new(stdout),
        json: args.json,
    };
    let mut decoder = Decoder::new().max_event_size(args.max_event_size);
    let mut summary = Summary { oversized: 0 };
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(Failure::Input { what, error }),
        };
        let block = Bytes::copy_from_slice(&buf[..n]);
        let mut at = 0;
        while at < block.len() {
            let end = block.len().min(at.saturating_add(chunk_size));
            for frame in decoder.frames(block.slice(at..end)) {
                match frame {
                    Ok(frame) => out.frame(&frame)?,
                    Err(e @ DecodeError::TooLarge { .. }) => {
                        summary.oversized += 1;
                        eprintln!("sse-cat: {e}");
                    }
                    Err(e) => eprintln!("sse-cat: {e}"),
                }
            }
            at = end;
        }
        // Show what has arrived before waiting for more (a live stream).
        out.flush()?;
    }
    if decoder.finish() && !args.json {
        eprintln!("sse-cat: the stream ended inside an event, which was discarded");
    }
    out.flush()?;
    Ok(summary)
}

/// What a command-line input looks like.
enum UrlKind {
    /// `http://` or `https://`: a stream to follow.
    Http,
    /// Another `scheme://`.
    Other(String),
    /// `host:port/...` or `localhost/...`: a URL without its scheme, unless
    /// a file of that name exists.
    NoScheme,
    /// Anything else: a file.
    Path,
}

fn url_kind(input: &str) -> UrlKind {
    if let Some((scheme, _)) = input.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let is_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        return match scheme.as_str() {
            "http" | "https" => UrlKind::Http,
            _ if is_scheme => UrlKind::Other(scheme),
            _ => UrlKind::Path,
        };
    }
    let host = input.split('/').next().unwrap_or_default();
    let port = host.rsplit_once(':').map(|(_, port)| port);
    if host == "localhost"
        || port.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        UrlKind::NoScheme
    } else {
        UrlKind::Path
    }
}

/// Text from a stream, safe to print on a terminal: control characters (an
/// escape sequence could rewrite the screen or the title) and the bidi
/// overrides (which could make text read otherwise) are shown escaped.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.into()
}

struct Printer<W: Write> {
    out: W,
    json: bool,
}

impl<W: Write> Printer<W> {
    fn event(&mut self, event: &Event) -> Result<(), Failure> {
        let written = if self.json {
            self.json_event(event)
        } else {
            self.human_event(event)
        };
        written.map_err(output_failure)
    }

    fn frame(&mut self, frame: &Frame) -> Result<(), Failure> {
        let written = match (frame, self.json) {
            (Frame::Event(e), true) => self.json_event(e),
            (Frame::Retry(delay), true) => self.json_line(&JsonRetry {
                retry_ms: whole_millis(*delay),
            }),
            (Frame::Event(e), false) => self.human_event(e),
            (Frame::Retry(delay), false) => {
                writeln!(self.out, "~ retry: {} ms", whole_millis(*delay))
            }
            // `Frame` may grow; a frame this version does not know is skipped.
            _ => Ok(()),
        };
        written.map_err(output_failure)
    }

    fn json_event(&mut self, e: &Event) -> io::Result<()> {
        self.json_line(&JsonEvent {
            event_type: &e.event_type(),
            data: &e.data(),
            last_event_id: &e.last_event_id(),
        })
    }

    fn json_line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }

    fn human_event(&mut self, e: &Event) -> io::Result<()> {
        let id = e.last_event_id();
        let event_type = e.event_type();
        if id.is_empty() {
            writeln!(self.out, "--- {}", printable(&event_type))?;
        } else {
            writeln!(
                self.out,
                "--- {} (id: {})",
                printable(&event_type),
                printable(&id)
            )?;
        }
        for line in e.data().split('\n') {
            writeln!(self.out, "  {}", printable(line))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(output_failure)
    }
}

fn output_failure(error: io::Error) -> Failure {
    if error.kind() == ErrorKind::BrokenPipe {
        Failure::OutputClosed
    } else {
        Failure::Output(error)
    }
}

/// A `retry` delay as the field's milliseconds. The decoder makes each delay
/// from the whole milliseconds of a `u64`, so this loses nothing.
fn whole_millis(delay: std::time::Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}
