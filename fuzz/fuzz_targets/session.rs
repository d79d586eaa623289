//! `session`: an arbitrary sequence of inputs (response heads with any
//! status and any `Content-Type`, `Content-Encoding`, `Retry-After` and
//! `Date` bytes, body bytes, ends, errors, fatal errors, closes, requested
//! reconnects, time passing, up to `Duration::MAX`) into a `Session`, polling
//! after each. No panic, and its invariants hold:
//!
//! - never a reconnect without delay: each `Disconnected` waits at least the
//!   floor (`min_retry`), unless the caller asked for it, and the next
//!   `Connect` comes no earlier;
//! - `poll` never asks to wait until a time already past (no busy loop), and
//!   settles in a bounded number of calls;
//! - the `Last-Event-ID` sent is the last event ID of a decoder fed the same
//!   bodies independently (when HTTP can carry it exactly), and no header
//!   value holds CR, LF or NUL;
//! - `Stop` is sticky, and a stopped session asks for nothing else.
//!
//! Each step is one byte (then its operands): op = byte % 8.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sse_proto::session::{Action, Config, Disconnect, Head, Input, Session};
use sse_proto::Decoder;
use sse_proto_fuzz::on_panic_describe;

const CONTENT_TYPES: [&[u8]; 4] = [
    b"text/event-stream",
    b"text/event-stream; charset=utf-8",
    b"text/plain",
    b"TEXT/EVENT-STREAM",
];
const STATUSES: [u16; 8] = [200, 200, 200, 204, 500, 503, 429, 404];
/// Header values worth meeting, besides arbitrary bytes from the input.
const VALUES: [&[u8]; 8] = [
    b"1",
    b"99999999999999999999",
    b"Sun, 06 Nov 1994 08:49:37 GMT",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"gzip",
    b"identity",
    b"",
    b"\r\n\0",
];

/// A header value: one of `VALUES`, or up to 40 bytes of the input.
fn value<'a>(bytes: &mut impl Iterator<Item = &'a u8>, data: &'a [u8], at: usize) -> &'a [u8] {
    let pick = bytes.next().copied().unwrap_or(0);
    if pick < 128 {
        return VALUES[usize::from(pick % 8)];
    }
    let len = usize::from(pick % 40);
    let start = at.min(data.len());
    &data[start..(start + len).min(data.len())]
}

fuzz_target!(|data: &[u8]| {
    on_panic_describe(data);
    let floor = Duration::from_millis(500);
    let config = Config::default()
        .idle_timeout(
            data.first()
                .filter(|b| *b & 1 == 1)
                .map(|b| Duration::from_millis(u64::from(*b) * 10)),
        )
        .retry_server_errors(data.get(1).is_some_and(|b| b & 1 == 1))
        .max_attempts(data.get(2).filter(|b| *b & 1 == 1).map(|b| u32::from(*b >> 1)))
        .max_event_size(4096)
        .min_retry(floor)
        // Repeatable runs: the default seed comes from the process.
        .seed(u64::from(data.get(3).copied().unwrap_or(0)))
        .jitter(data.get(4).is_none_or(|b| b & 1 == 0));
    let mut session = Session::new(config);
    // An independent decoder fed the same bodies, for the last event ID.
    let mut shadow = Decoder::new();
    let mut now = Duration::ZERO;
    let mut open = false;
    let mut earliest_connect = Duration::ZERO;
    let mut stopped = None;

    let mut bytes = data.iter().skip(5);
    while let Some(&op) = bytes.next() {
        match op % 10 {
            0 => {
                let status = STATUSES[usize::from(bytes.next().copied().unwrap_or(0) % 8)];
                let content_type =
                    CONTENT_TYPES[usize::from(bytes.next().copied().unwrap_or(0) % 4)];
                let at = data.len() - bytes.len();
                let retry_after = value(&mut bytes, data, at);
                let date = value(&mut bytes, data, at + 7);
                let mut head = Head::new(status)
                    .content_type(content_type)
                    .retry_after(retry_after)
                    .date(date);
                if op & 0x80 != 0 {
                    head = head.content_encoding(value(&mut bytes, data, at + 13));
                }
                session.handle(now, Input::Response(head));
            }
            8 => {
                // Any status, any header bytes, the caller's clock.
                let hi = bytes.next().copied().unwrap_or(0);
                let lo = bytes.next().copied().unwrap_or(0);
                let at = data.len() - bytes.len();
                let head = Head::from_headers(u16::from_be_bytes([hi, lo]), |name| match name {
                    "content-type" => Some(&data[at.min(data.len())..]),
                    _ => Some(data),
                })
                .unix_time(u64::from(lo) << 30);
                session.handle(now, Input::Response(head));
            }
            9 if op & 0x80 != 0 => session.handle(now, Input::Fatal),
            9 => {
                session.reconnect(now);
                earliest_connect = now;
            }
            1 | 2 => {
                let len = usize::from(bytes.next().copied().unwrap_or(0) % 64);
                let body: Vec<u8> = bytes.by_ref().take(len).copied().collect();
                if open {
                    shadow.push(body.clone());
                    while shadow.next_frame().is_some() {}
                }
                session.handle(now, Input::Body(Bytes::from(body)));
            }
            3 => session.handle(now, Input::End),
            4 => session.handle(now, Input::Error),
            5 => {
                let step = match bytes.next().copied().unwrap_or(0) {
                    255 => Duration::MAX,
                    n => Duration::from_millis(u64::from(n) * 37),
                };
                now = now.saturating_add(step);
            }
            6 if bytes.next().copied().unwrap_or(0) == 0 => session.close(),
            _ => {}
        }
        // Poll until it settles; bounded.
        let mut settled = false;
        for _ in 0..10_000 {
            let action = session.poll(now);
            if let Some(reason) = stopped {
                assert_eq!(action, Action::Stop(reason), "Stop is sticky");
            }
            match action {
                Action::Connect(connect) => {
                    assert!(
                        now >= earliest_connect,
                        "reconnected at {now:?} before {earliest_connect:?}"
                    );
                    for (name, value) in connect.headers() {
                        assert!(
                            !value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)),
                            "header {name}: {value:?}"
                        );
                    }
                    let seen = shadow.last_event_id_bytes();
                    if let Some(sent) = &connect.last_event_id {
                        assert_eq!(
                            String::from_utf8_lossy(seen).as_bytes(),
                            &sent[..],
                            "Last-Event-ID"
                        );
                    } else {
                        // Not sent: empty, or HTTP could not carry it exactly
                        // (a control character, or a space or tab at an end,
                        // which HTTP strips).
                        let at_end = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
                        assert!(
                            seen.is_empty()
                                || seen.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7F)
                                || at_end(seen.first())
                                || at_end(seen.last()),
                            "id {seen:?} not sent"
                        );
                    }
                    // Body bytes count only once the head opened the stream.
                    open = false;
                    settled = true;
                    break;
                }
                Action::Opened => open = true,
                Action::Disconnected { reason, retry_in } => {
                    if reason == Disconnect::Requested {
                        assert_eq!(retry_in, Duration::ZERO);
                    } else {
                        assert!(
                            retry_in >= floor,
                            "a reconnect after {retry_in:?}, under the floor"
                        );
                    }
                    earliest_connect = now.saturating_add(retry_in);
                    let _ = shadow.finish();
                    open = false;
                }
                Action::Wait(Some(deadline)) => {
                    assert!(
                        deadline > now,
                        "asked to wait until {deadline:?} at {now:?}"
                    );
                    settled = true;
                    break;
                }
                Action::Wait(None) => {
                    settled = true;
                    break;
                }
                Action::Stop(reason) => {
                    stopped = Some(reason);
                    if open {
                        let _ = shadow.finish();
                    }
                    open = false;
                    settled = true;
                    break;
                }
                _ => {}
            }
        }
        assert!(settled, "poll did not settle in 10,000 calls");
    }
});
