//! One wire rule, both directions: the `Last-Event-ID` a client sends
//! (`session::last_event_id_header`) is the one a server reads
//! (`server::last_event_id`), for any id.

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use sse_proto::server::last_event_id;
use sse_proto::session::last_event_id_header;

/// What a server reads of the header a client sends for `id`, or `None`
/// when the client sends none.
fn round_trip(id: &[u8]) -> Option<String> {
    let value = last_event_id_header(id, 4096)?;
    let value = HeaderValue::from_bytes(&value).expect("a valid header value");
    let mut headers = HeaderMap::new();
    headers.insert("last-event-id", value);
    Some(
        last_event_id(&headers)
            .expect("the server reads it")
            .to_owned(),
    )
}

/// Ids as servers send them: ASCII, any Unicode, spaces, tabs, control
/// characters, and invalid UTF-8.
fn ids() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(String::into_bytes),
        any::<String>().prop_map(String::into_bytes),
        "[a-z \\t\\u{e9}\\u{1F600}]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn what_a_client_sends_a_server_reads_exactly_or_nothing_is_sent(id in ids()) {
        let text = String::from_utf8_lossy(&id).into_owned();
        match round_trip(&id) {
            Some(read) => prop_assert_eq!(read, text),
            None => {
                let unsendable = text.is_empty()
                    || text.chars().any(|c| c.is_ascii_control() && c != '\t')
                    || text.starts_with([' ', '\t'])
                    || text.ends_with([' ', '\t']);
                prop_assert!(unsendable, "{:?} was not sent", text);
            }
        }
    }
}

#[test]
fn a_non_ascii_id_round_trips() {
    assert_eq!(round_trip("café-7".as_bytes()).as_deref(), Some("café-7"));
    assert_eq!(
        round_trip("\u{1F600}".as_bytes()).as_deref(),
        Some("\u{1F600}")
    );
    // Invalid UTF-8 goes as U+FFFD, as a browser sends it.
    assert_eq!(round_trip(b"a\xFFb").as_deref(), Some("a\u{FFFD}b"));
}

#[test]
fn an_id_http_would_change_is_not_sent() {
    for id in [
        &b""[..],
        b" a",
        b"a ",
        b"\ta",
        b"a\r",
        b"a\nb",
        b"\x00",
        b"\x7F",
    ] {
        assert_eq!(round_trip(id), None, "{id:?}");
    }
}
