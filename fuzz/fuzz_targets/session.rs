//! `session`: an arbitrary sequence of inputs (response heads, body bytes,
//! ends, errors, closes, time passing) into a `Session`, polling after each.
//! No panic, and its invariants hold:
//!
//! - never a reconnect without delay: each `Disconnected` waits at least the
//!   floor (`min_retry`), and the next `Connect` comes no earlier;
//! - `poll` never asks to wait until a time already past (no busy loop), and
//!   settles in a bounded number of calls;
//! - the `Last-Event-ID` sent is the last event ID of a decoder fed the same
//!   bodies independently (when it is sendable), and no header value holds
//!   CR, LF or NUL;
//! - `Stop` is sticky, and a stopped session asks for nothing else.
//!
//! Each step is one byte (then its operands): op = byte % 8.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sse_proto::session::{Action, Config, Input, Session};
use sse_proto::Decoder;
use sse_proto_fuzz::on_panic_describe;

const CONTENT_TYPES: [&[u8]; 4] = [
    b"text/event-stream",
    b"text/event-stream; charset=utf-8",
    b"text/plain",
    b"TEXT/EVENT-STREAM",
];
const STATUSES: [u16; 8] = [200, 200, 200, 204, 500, 503, 429, 404];

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
        .min_retry(floor);
    let mut session = Session::new(config);
    // An independent decoder fed the same bodies, for the last event ID.
    let mut shadow = Decoder::new();
    let mut now = Duration::ZERO;
    let mut open = false;
    let mut earliest_connect = Duration::ZERO;
    let mut stopped = None;

    let mut bytes = data.iter().copied().skip(3);
    while let Some(op) = bytes.next() {
        match op % 8 {
            0 => {
                let status = STATUSES[usize::from(bytes.next().unwrap_or(0) % 8)];
                let content_type = CONTENT_TYPES[usize::from(bytes.next().unwrap_or(0) % 4)];
                session.handle(
                    now,
                    Input::Response {
                        status,
                        content_type: Some(content_type),
                        retry_after: Some(b"1"),
                    },
                );
            }
            1 | 2 => {
                let len = usize::from(bytes.next().unwrap_or(0) % 64);
                let body: Vec<u8> = bytes.by_ref().take(len).collect();
                if open {
                    shadow.push(body.clone());
                    while shadow.next_frame().is_some() {}
                }
                session.handle(now, Input::Body(Bytes::from(body)));
            }
            3 => session.handle(now, Input::End),
            4 => session.handle(now, Input::Error),
            5 => now += Duration::from_millis(u64::from(bytes.next().unwrap_or(0)) * 37),
            6 if bytes.next().unwrap_or(0) == 0 => session.close(),
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
                        assert!(
                            seen.is_empty()
                                || seen.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7F),
                            "id {seen:?} not sent"
                        );
                    }
                    // Body bytes count only once the head opened the stream.
                    open = false;
                    settled = true;
                    break;
                }
                Action::Opened => open = true,
                Action::Disconnected { retry_in, .. } => {
                    assert!(
                        retry_in >= floor,
                        "a reconnect after {retry_in:?}, under the floor"
                    );
                    earliest_connect = now + retry_in;
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
