//! `sse-cat --encode`: JSON lines in the `--json` format to a stream.

use std::io::{self, BufRead, Write};

use serde::Deserialize;
use sse_proto::{encode_to, EventRef};

/// One input line: an event (`data`, with optional `type` and
/// `last_event_id`), a reconnection time (`retry_ms`), or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(rename = "type")]
    event_type: Option<String>,
    data: Option<String>,
    last_event_id: Option<String>,
    retry_ms: Option<u64>,
}

/// Why encoding stopped.
#[derive(Debug)]
pub enum EncodeFailure {
    /// Reading the input failed.
    Read(io::Error),
    /// Writing the output failed.
    Write(io::Error),
    /// An input line is not a valid event; `line` counts from 1.
    Invalid { line: usize, reason: String },
}

/// Reads JSON lines from `input` and writes the stream to `out`, stopping at
/// the first invalid line (what came before it is written).
///
/// The last event ID is tracked as a client would: an `id` line is written
/// only when an event's `last_event_id` differs from the current one (an
/// empty one resets it), so decoding the output gives back the same lines.
/// Line breaks in `data` become separate `data:` lines; CR and CRLF come back
/// as LF, as the protocol defines.
pub fn encode_lines(input: impl BufRead, out: &mut impl Write) -> Result<usize, EncodeFailure> {
    let mut current_id = String::new();
    let mut buf = Vec::with_capacity(4096);
    let mut events = 0;
    for (index, line) in input.split(b'\n').enumerate() {
        let line_no = index + 1;
        let invalid = |reason: String| EncodeFailure::Invalid {
            line: line_no,
            reason,
        };
        let line = line.map_err(EncodeFailure::Read)?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let input: Input = serde_json::from_slice(&line).map_err(|e| invalid(json_reason(&e)))?;
        if input.data.is_none() && input.event_type.is_some() {
            return Err(invalid(
                "\"type\" needs \"data\": an event without data is not dispatched".into(),
            ));
        }
        if input.data.is_none() && input.retry_ms.is_none() && input.last_event_id.is_none() {
            return Err(invalid(
                "expected \"data\" (an event) or \"retry_ms\"".into(),
            ));
        }
        if let Some(ms) = input.retry_ms {
            // On its own, before the event, as `--json` reports it.
            let retry = EventRef {
                retry: Some(std::time::Duration::from_millis(ms)),
                ..Default::default()
            };
            encode_to(&retry, &mut buf).map_err(|e| invalid(e.to_string()))?;
        }
        let id = input
            .last_event_id
            .as_deref()
            .filter(|id| *id != current_id);
        if input.data.is_some() || id.is_some() {
            let event = EventRef {
                event: input.event_type.as_deref().filter(|t| *t != "message"),
                id,
                data: input.data.as_deref(),
                ..Default::default()
            };
            encode_to(&event, &mut buf).map_err(|e| invalid(e.to_string()))?;
            events += usize::from(input.data.is_some());
        }
        if let Some(id) = id {
            current_id = id.to_owned();
        }
        out.write_all(&buf).map_err(EncodeFailure::Write)?;
        buf.clear();
    }
    out.flush().map_err(EncodeFailure::Write)?;
    Ok(events)
}

/// A JSON error without serde_json's own "at line 1 column N", which would
/// read as a second line number: the column is enough within one line.
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    format!("not a JSON event: {message} (column {})", e.column())
}
