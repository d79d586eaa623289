//! A reference model of the WHATWG HTML standard's server-sent events
//! parsing, used as a test oracle.
//!
//! This module follows the HTML Living Standard, section 9.2 "Server-sent
//! events", subsection "Interpreting an event stream", and the steps to
//! "dispatch the event" for web browsers, one step at a time. It is written
//! to be obviously correct, not fast: it takes the whole stream at once,
//! decodes all of it, splits all of it into lines, and then processes the
//! lines in order, keeping the standard's buffers as plain `String`s.
//!
//! Choices made where the standard leaves room (each is also explained next
//! to the code it affects):
//!
//! * A last line with no line terminator is not a line. It is pending data
//!   and is thrown away when the stream ends. So an unterminated `retry`
//!   field at the very end has no effect.
//! * A CR as the very last byte ends a line. The whole stream is known, so
//!   that CR is certainly "not followed by" an LF.
//! * A `retry` value must be non-empty, and must fit in a `u64`. Otherwise
//!   the field is ignored.
//! * [`interpret_with_last_event_id`] starts both the last event ID string
//!   and the last event ID buffer at the seed. (The standard sets the buffer
//!   to the empty string for each new stream.)

/// One observable effect of the stream, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A dispatched MessageEvent.
    Event {
        /// The event's `type`: the event type buffer, or `"message"` if that was empty.
        event_type: String,
        /// The event's `data`: the data buffer without its one trailing LF.
        data: String,
        /// The event's `lastEventId`: the event source's last event ID string at dispatch.
        last_event_id: String,
    },
    /// A valid `retry` field set the reconnection time (milliseconds).
    Retry(u64),
}

/// Everything a conforming EventSource observes from one whole stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Events and retry changes, in stream order.
    pub outputs: Vec<Output>,
    /// The event source's last event ID string after the stream ended (what a reconnect would send).
    pub last_event_id: String,
    /// The reconnection time after the last valid retry field, if any.
    pub retry_ms: Option<u64>,
}

impl Outcome {
    /// Only the events, as (type, data, last_event_id) triples.
    pub fn events(&self) -> Vec<(String, String, String)> {
        let mut events = Vec::new();
        for output in &self.outputs {
            if let Output::Event {
                event_type,
                data,
                last_event_id,
            } = output
            {
                events.push((event_type.clone(), data.clone(), last_event_id.clone()));
            }
        }
        events
    }
}

/// Interprets a whole stream, starting with an empty last event ID.
pub fn interpret(stream: &[u8]) -> Outcome {
    interpret_with_last_event_id(stream, "")
}

/// Same, but the last event ID string and buffer start as `seed` (as after a reconnect).
pub fn interpret_with_last_event_id(stream: &[u8], seed: &str) -> Outcome {
    // "Streams must be decoded using the UTF-8 decode algorithm."
    let text = utf8_decode(stream);

    // "The stream must then be parsed by reading everything line by line".
    let lines = split_into_lines(&text);

    let mut interpreter = Interpreter::new(seed);

    // "Lines must be processed, in the order they are received".
    for line in &lines {
        interpreter.process_line(line);
    }

    // "Once the end of the file is reached, any pending data must be
    // discarded. (If the file ends in the middle of an event, before the
    // final empty line, the incomplete event is not dispatched.)"
    //
    // Nothing to do: we simply never dispatch what is left in the buffers.
    // The unterminated last line (if any) was already dropped by
    // `split_into_lines`.
    interpreter.finish()
}

/// The WHATWG Encoding standard's "UTF-8 decode": strip one leading UTF-8
/// BOM if present, then decode, replacing invalid bytes with U+FFFD.
///
/// `String::from_utf8_lossy` uses the same "maximal subpart" rule for how
/// many U+FFFD to emit as the WHATWG UTF-8 decoder does.
fn utf8_decode(stream: &[u8]) -> String {
    const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
    // The UTF-8 decode algorithm "strips one leading UTF-8 Byte Order Mark
    // (BOM), if any". Only one: a second BOM is ordinary text (U+FEFF).
    let without_bom = match stream.strip_prefix(BOM) {
        Some(rest) => rest,
        None => stream,
    };
    String::from_utf8_lossy(without_bom).into_owned()
}

/// Splits decoded text into lines, without their terminators.
///
/// The standard: lines end with "a U+000D CARRIAGE RETURN U+000A LINE FEED
/// (CRLF) character pair, a single U+000A LINE FEED (LF) character not
/// preceded by a U+000D CARRIAGE RETURN (CR) character, and a single U+000D
/// CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF)
/// character".
///
/// Decision on the end of the stream: the end of the file is NOT one of the
/// ways a line can end. The list above does not include it (an older draft
/// said "and the end of the file being the four ways in which a line can
/// end"; that wording was removed on purpose, W3C bug 16866), and the ABNF
/// (`event = *( comment / field ) end-of-line`, with `field` and `comment`
/// each ending in `end-of-line`) has no line without a terminator. So
/// characters after the last terminator are incomplete, "pending data", and
/// are discarded. This is observable only through `retry`: `"retry: 5"` with
/// no terminator at the end of the stream does not change the reconnection
/// time. (Other fields only matter once a blank line dispatches, and that
/// cannot come after the last line.)
///
/// Decision on a CR as the very last character: it ends a line. We have the
/// whole stream, so we know the CR is "not followed by" an LF.
fn split_into_lines(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\r' {
            // CRLF or a lone CR: either way the line ends here.
            lines.push(current);
            current = String::new();
            // If the CR is followed by an LF, the pair is one terminator.
            if i + 1 < chars.len() && chars[i + 1] == '\n' {
                i += 1;
            }
        } else if c == '\n' {
            // An LF not preceded by a CR (a preceding CR was handled above).
            lines.push(current);
            current = String::new();
        } else {
            current.push(c);
        }
        i += 1;
    }
    // Whatever is in `current` now had no line terminator: it is not a line
    // and is discarded (see the decision above).
    lines
}

/// The state the standard associates with a stream being parsed, plus the
/// event source state that the stream can change.
struct Interpreter {
    /// "data buffer"
    data_buffer: String,
    /// "event type buffer"
    event_type_buffer: String,
    /// "last event ID buffer"
    last_event_id_buffer: String,
    /// The event source's "last event ID string".
    last_event_id_string: String,
    /// The event stream's "reconnection time", if a `retry` field set it.
    reconnection_time: Option<u64>,
    /// Everything observed so far, in order.
    outputs: Vec<Output>,
}

impl Interpreter {
    /// "When a stream is parsed, a data buffer, an event type buffer, and a
    /// last event ID buffer must be associated with it. They must be
    /// initialized to the empty string."
    ///
    /// Exception, on purpose: the last event ID buffer starts as `seed`, the
    /// same as the event source's last event ID string. With `seed == ""`
    /// this is exactly the standard. With a non-empty seed it models a
    /// reconnect the way browsers behave: an event without an `id` field
    /// after a reconnect still carries the old ID. Read literally, the
    /// standard would make the first dispatch on the new stream set the last
    /// event ID string back to "".
    fn new(seed: &str) -> Interpreter {
        Interpreter {
            data_buffer: String::new(),
            event_type_buffer: String::new(),
            last_event_id_buffer: seed.to_string(),
            last_event_id_string: seed.to_string(),
            reconnection_time: None,
            outputs: Vec::new(),
        }
    }

    /// Processes one line (without its terminator).
    fn process_line(&mut self, line: &str) {
        // "If the line is empty (a blank line)": "Dispatch the event".
        if line.is_empty() {
            self.dispatch_the_event();
            return;
        }

        // "If the line starts with a U+003A COLON character (:)": "Ignore
        // the line."
        if line.starts_with(':') {
            return;
        }

        // "If the line contains a U+003A COLON character (:)":
        if let Some(colon) = line.find(':') {
            // "Collect the characters on the line before the first U+003A
            // COLON character (:), and let field be that string."
            let field = &line[..colon];
            // "Collect the characters on the line after the first U+003A
            // COLON character (:), and let value be that string."
            let mut value = &line[colon + 1..];
            // "If value starts with a U+0020 SPACE character, remove it from
            // value." (One space only.)
            if let Some(rest) = value.strip_prefix(' ') {
                value = rest;
            }
            // "Process the field ... using field as the field name and value
            // as the field value."
            self.process_the_field(field, value);
            return;
        }

        // "Otherwise, the string is not empty but does not contain a U+003A
        // COLON character (:)": "Process the field ... using the whole line
        // as the field name, and the empty string as the field value."
        self.process_the_field(line, "");
    }

    /// "The steps to process the field given a field name and a field value
    /// depend on the field name ... Field names must be compared literally,
    /// with no case folding performed."
    fn process_the_field(&mut self, name: &str, value: &str) {
        if name == "event" {
            // "Set the event type buffer to field value."
            self.event_type_buffer = value.to_string();
        } else if name == "data" {
            // "Append the field value to the data buffer, then append a
            // single U+000A LINE FEED (LF) character to the data buffer."
            self.data_buffer.push_str(value);
            self.data_buffer.push('\n');
        } else if name == "id" {
            // "If the field value does not contain U+0000 NULL, then set the
            // last event ID buffer to the field value. Otherwise, ignore the
            // field." (An empty value is allowed and sets the buffer to "".)
            if !value.contains('\u{0000}') {
                self.last_event_id_buffer = value.to_string();
            }
        } else if name == "retry" {
            // "If the field value consists of only ASCII digits, then
            // interpret the field value as an integer in base ten, and set
            // the event stream's reconnection time to that integer.
            // Otherwise, ignore the field."
            if let Some(milliseconds) = parse_retry(value) {
                self.reconnection_time = Some(milliseconds);
                self.outputs.push(Output::Retry(milliseconds));
            }
        } else {
            // "Otherwise": "The field is ignored."
        }
    }

    /// The steps to "dispatch the event" for web browsers.
    fn dispatch_the_event(&mut self) {
        // 1. "Set the last event ID string of the event source to the value
        //    of the last event ID buffer. The buffer does not get reset".
        //    (This happens even if no event is fired below.)
        self.last_event_id_string = self.last_event_id_buffer.clone();

        // 2. "If the data buffer is an empty string, set the data buffer and
        //    the event type buffer to the empty string and return."
        if self.data_buffer.is_empty() {
            self.data_buffer = String::new();
            self.event_type_buffer = String::new();
            return;
        }

        // 3. "If the data buffer's last character is a U+000A LINE FEED (LF)
        //    character, then remove the last character from the data
        //    buffer." (Only one.)
        if self.data_buffer.ends_with('\n') {
            self.data_buffer.pop();
        }

        // 4.-5. Create a MessageEvent with type "message", data set to the
        //    data buffer, and lastEventId set to "the last event ID string of
        //    the event source".
        let mut event_type = String::from("message");
        let data = self.data_buffer.clone();
        let last_event_id = self.last_event_id_string.clone();

        // 6. "If the event type buffer has a value other than the empty
        //    string, change the type of the newly created event to equal the
        //    value of the event type buffer."
        if !self.event_type_buffer.is_empty() {
            event_type = self.event_type_buffer.clone();
        }

        // 7. "Set the data buffer and the event type buffer to the empty
        //    string."
        self.data_buffer = String::new();
        self.event_type_buffer = String::new();

        // 8. "Queue a task which ... dispatches the newly created event".
        self.outputs.push(Output::Event {
            event_type,
            data,
            last_event_id,
        });
    }

    /// What the event source has observed once the stream has ended.
    fn finish(self) -> Outcome {
        Outcome {
            outputs: self.outputs,
            last_event_id: self.last_event_id_string,
            retry_ms: self.reconnection_time,
        }
    }
}

/// The `retry` value check: "consists of only ASCII digits", read in base
/// ten.
///
/// Decisions: an empty value is ignored (it has no digits, so it names no
/// integer; browsers ignore it too). A value too large for a `u64` is ignored
/// (the standard sets no limit; Chromium also ignores a value that does not
/// fit its integer type).
fn parse_retry(value: &str) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    // "ASCII digits" are U+0030 (0) to U+0039 (9) only: no sign, no spaces,
    // no other Unicode digits.
    for c in value.chars() {
        if !c.is_ascii_digit() {
            return None;
        }
    }
    // Base ten. Only fails if the number does not fit in a u64.
    value.parse::<u64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shorthand for an expected event.
    fn ev(event_type: &str, data: &str, last_event_id: &str) -> Output {
        Output::Event {
            event_type: event_type.to_string(),
            data: data.to_string(),
            last_event_id: last_event_id.to_string(),
        }
    }

    /// Shorthand for an expected outcome.
    fn outcome(outputs: Vec<Output>, last_event_id: &str, retry_ms: Option<u64>) -> Outcome {
        Outcome {
            outputs,
            last_event_id: last_event_id.to_string(),
            retry_ms,
        }
    }

    #[test]
    fn empty_stream_observes_nothing() {
        assert_eq!(interpret(b""), Outcome::default());
    }

    #[test]
    fn spec_example_yhoo_multiline_data() {
        let got = interpret(b"data: YHOO\ndata: +2\ndata: 10\n\n");
        assert_eq!(
            got,
            outcome(vec![ev("message", "YHOO\n+2\n10", "")], "", None)
        );
    }

    #[test]
    fn spec_example_yhoo_without_blank_line_fires_nothing() {
        // "once followed by a blank line": without it, nothing.
        let got = interpret(b"data: YHOO\ndata: +2\ndata: 10\n");
        assert_eq!(got, Outcome::default());
    }

    #[test]
    fn spec_example_four_blocks_with_ids() {
        let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
        let got = interpret(stream);
        assert_eq!(
            got,
            outcome(
                vec![
                    ev("message", "first event", "1"),
                    ev("message", "second event", ""),
                    ev("message", " third event", ""),
                ],
                "",
                None
            )
        );
    }

    #[test]
    fn spec_example_four_blocks_last_needs_blank_line() {
        // "the end of the stream is not enough to trigger the dispatch of the
        // last event".
        let stream =
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
        let got = interpret(stream);
        assert_eq!(
            got.events(),
            vec![
                (
                    "message".to_string(),
                    "first event".to_string(),
                    "1".to_string()
                ),
                (
                    "message".to_string(),
                    "second event".to_string(),
                    String::new()
                ),
            ]
        );
        assert_eq!(got.last_event_id, "");
    }

    #[test]
    fn spec_example_data_blocks() {
        // First block: data "". Middle block: data "\n". Last block (no
        // blank line after it) is discarded.
        let got = interpret(b"data\n\ndata\ndata\n\ndata:");
        assert_eq!(
            got,
            outcome(
                vec![ev("message", "", ""), ev("message", "\n", "")],
                "",
                None
            )
        );
    }

    #[test]
    fn spec_example_space_after_colon_is_ignored() {
        let got = interpret(b"data:test\n\ndata: test\n\n");
        assert_eq!(
            got,
            outcome(
                vec![ev("message", "test", ""), ev("message", "test", "")],
                "",
                None
            )
        );
    }

    #[test]
    fn only_one_leading_space_is_removed() {
        let got = interpret(b"data:   x \n\n");
        assert_eq!(got.outputs, vec![ev("message", "  x ", "")]);
    }

    #[test]
    fn cr_only_line_endings() {
        let got = interpret(b"event: a\rdata: 1\rdata: 2\r\r");
        assert_eq!(got.outputs, vec![ev("a", "1\n2", "")]);
    }

    #[test]
    fn crlf_line_endings() {
        let got = interpret(b"event: a\r\ndata: 1\r\ndata: 2\r\n\r\n");
        assert_eq!(got.outputs, vec![ev("a", "1\n2", "")]);
    }

    #[test]
    fn lf_line_endings() {
        let got = interpret(b"event: a\ndata: 1\ndata: 2\n\n");
        assert_eq!(got.outputs, vec![ev("a", "1\n2", "")]);
    }

    #[test]
    fn mixed_line_endings() {
        // "data: 1" CRLF, "data: 2" CR, "data: 3" LF, a blank line ended by
        // a lone CR (so "\n\r" is two line ends), then "data: 4" LF and a
        // blank line ended by CRLF.
        let got = interpret(b"data: 1\r\ndata: 2\rdata: 3\n\rdata: 4\n\r\n");
        assert_eq!(
            got.outputs,
            vec![ev("message", "1\n2\n3", ""), ev("message", "4", "")]
        );
    }

    #[test]
    fn lf_cr_is_two_line_endings() {
        // "a\n\rb": LF ends "a", then CR ends an empty line (dispatch).
        let got = interpret(b"data: a\n\rdata: b\n\n");
        assert_eq!(
            got.outputs,
            vec![ev("message", "a", ""), ev("message", "b", "")]
        );
    }

    #[test]
    fn cr_at_end_of_stream_ends_a_line() {
        // The final CR ends a blank line, which dispatches.
        let got = interpret(b"data: x\r\r");
        assert_eq!(got.outputs, vec![ev("message", "x", "")]);
        // A lone final CR ends the `retry` line, so it takes effect.
        let got = interpret(b"retry: 7\r");
        assert_eq!(got, outcome(vec![Output::Retry(7)], "", Some(7)));
    }

    #[test]
    fn bom_is_stripped() {
        let got = interpret(b"\xEF\xBB\xBFdata: hi\n\n");
        assert_eq!(got.outputs, vec![ev("message", "hi", "")]);
    }

    #[test]
    fn only_one_bom_is_stripped() {
        // The second BOM stays, so the first field name is "\u{FEFF}data":
        // unknown and ignored. That block has empty data, so no event.
        let got = interpret(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: 1\n\ndata: 2\n\n");
        assert_eq!(got.outputs, vec![ev("message", "2", "")]);
    }

    #[test]
    fn bom_later_in_stream_is_content() {
        // The web-platform-tests "format-bom" case: only a leading BOM goes.
        let got = interpret(b"\xEF\xBB\xBFdata:1\n\n\xEF\xBB\xBFdata:2\n\ndata:3\n\n");
        assert_eq!(
            got.outputs,
            vec![ev("message", "1", ""), ev("message", "3", "")]
        );
    }

    #[test]
    fn partial_bom_is_replacement_character() {
        // EF BB followed by 'd' is one maximal subpart: one U+FFFD. The field
        // name "\u{FFFD}data" is unknown.
        let got = interpret(b"\xEF\xBBdata: 1\n\ndata: 2\n\n");
        assert_eq!(got.outputs, vec![ev("message", "2", "")]);
        // Inside a value it shows up as a single U+FFFD.
        let got = interpret(b"data: \xEF\xBBx\n\n");
        assert_eq!(got.outputs, vec![ev("message", "\u{FFFD}x", "")]);
    }

    #[test]
    fn invalid_utf8_in_data_is_replaced() {
        let got = interpret(b"data: a\xFFb\xC3\n\n");
        assert_eq!(got.outputs, vec![ev("message", "a\u{FFFD}b\u{FFFD}", "")]);
    }

    #[test]
    fn valid_utf8_is_kept() {
        let got = interpret("data: ok\u{2026} \u{1F600}\n\n".as_bytes());
        assert_eq!(got.outputs, vec![ev("message", "ok\u{2026} \u{1F600}", "")]);
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let got = interpret(b"id: 1\n\nid: a\x00b\ndata: x\n\n");
        assert_eq!(got, outcome(vec![ev("message", "x", "1")], "1", None));
    }

    #[test]
    fn empty_id_resets_last_event_id() {
        let got = interpret(b"id: 5\ndata: a\n\nid:\ndata: b\n\n");
        assert_eq!(
            got,
            outcome(
                vec![ev("message", "a", "5"), ev("message", "b", "")],
                "",
                None
            )
        );
        // `id` without a colon is also an empty value.
        let got = interpret(b"id: 5\ndata: a\n\nid\ndata: b\n\n");
        assert_eq!(got.last_event_id, "");
    }

    #[test]
    fn id_only_block_updates_last_event_id_without_event() {
        let got = interpret(b"id: 42\n\n");
        assert_eq!(got, outcome(vec![], "42", None));
    }

    #[test]
    fn id_without_dispatch_does_not_update_last_event_id() {
        // The buffer is only copied to the string on dispatch.
        let got = interpret(b"id: 42\n");
        assert_eq!(got, Outcome::default());
    }

    #[test]
    fn id_carries_over_to_later_events() {
        let got = interpret(b"id: 1\ndata: a\n\ndata: b\n\n");
        assert_eq!(
            got.outputs,
            vec![ev("message", "a", "1"), ev("message", "b", "1")]
        );
    }

    #[test]
    fn seed_survives_events_without_id() {
        let got = interpret_with_last_event_id(b"data: a\n\n\ndata: b\n\n", "seed");
        assert_eq!(
            got,
            outcome(
                vec![ev("message", "a", "seed"), ev("message", "b", "seed")],
                "seed",
                None
            )
        );
    }

    #[test]
    fn seed_is_replaced_by_id_field() {
        let got = interpret_with_last_event_id(b"id: 9\ndata: a\n\n", "seed");
        assert_eq!(got, outcome(vec![ev("message", "a", "9")], "9", None));
        let got = interpret_with_last_event_id(b"id\n\n", "seed");
        assert_eq!(got, outcome(vec![], "", None));
    }

    #[test]
    fn seed_kept_for_empty_stream() {
        let got = interpret_with_last_event_id(b"", "seed");
        assert_eq!(got, outcome(vec![], "seed", None));
    }

    #[test]
    fn retry_valid() {
        let got = interpret(b"retry:1000\n");
        assert_eq!(got, outcome(vec![Output::Retry(1000)], "", Some(1000)));
    }

    #[test]
    fn retry_with_leading_space_is_valid() {
        let got = interpret(b"retry: 5\n");
        assert_eq!(got, outcome(vec![Output::Retry(5)], "", Some(5)));
    }

    #[test]
    fn retry_with_leading_zeros_and_zero() {
        let got = interpret(b"retry: 007\nretry: 0\n");
        assert_eq!(
            got,
            outcome(vec![Output::Retry(7), Output::Retry(0)], "", Some(0))
        );
    }

    #[test]
    fn retry_invalid_values_are_ignored() {
        let stream =
            b"retry:5 \nretry:  5\nretry: -1\nretry: +1\nretry: 1.5\nretry: 1e3\nretry: abc\n";
        assert_eq!(interpret(stream), Outcome::default());
        // Non-ASCII digits (ARABIC-INDIC DIGIT FIVE) are not ASCII digits.
        assert_eq!(
            interpret("retry: \u{0665}\n".as_bytes()),
            Outcome::default()
        );
    }

    #[test]
    fn retry_empty_is_ignored() {
        assert_eq!(interpret(b"retry:\nretry: \nretry\n"), Outcome::default());
    }

    #[test]
    fn retry_overflow_is_ignored() {
        // u64::MAX fits; one more does not.
        let got = interpret(b"retry: 18446744073709551615\nretry: 18446744073709551616\n");
        assert_eq!(
            got,
            outcome(vec![Output::Retry(u64::MAX)], "", Some(u64::MAX))
        );
    }

    #[test]
    fn invalid_retry_keeps_previous_value() {
        let got = interpret(b"retry: 10\nretry: x\n");
        assert_eq!(got, outcome(vec![Output::Retry(10)], "", Some(10)));
    }

    #[test]
    fn retry_is_in_stream_order_and_applies_without_dispatch() {
        // The retry line is processed before the blank line that dispatches,
        // and takes effect even in a block that is later discarded.
        let got = interpret(b"data: a\nretry: 3\n\nretry: 4\ndata: discarded\n");
        assert_eq!(
            got,
            outcome(
                vec![Output::Retry(3), ev("message", "a", ""), Output::Retry(4)],
                "",
                Some(4)
            )
        );
    }

    #[test]
    fn unterminated_retry_at_end_is_not_a_line() {
        assert_eq!(interpret(b"retry: 5"), Outcome::default());
        let got = interpret(b"retry: 1\nretry: 5");
        assert_eq!(got, outcome(vec![Output::Retry(1)], "", Some(1)));
    }

    #[test]
    fn event_type_reset_after_empty_data_block() {
        // The first block has no data: no event, but the type buffer is
        // reset, so the next event is "message".
        let got = interpret(b"event: foo\n\ndata: x\n\n");
        assert_eq!(got.outputs, vec![ev("message", "x", "")]);
    }

    #[test]
    fn event_type_reset_after_dispatch() {
        let got = interpret(b"event: foo\ndata: 1\n\ndata: 2\n\n");
        assert_eq!(
            got.outputs,
            vec![ev("foo", "1", ""), ev("message", "2", "")]
        );
    }

    #[test]
    fn empty_event_type_means_message() {
        let got = interpret(b"event: foo\nevent:\ndata: x\n\n");
        assert_eq!(got.outputs, vec![ev("message", "x", "")]);
    }

    #[test]
    fn event_type_and_id() {
        let got = interpret(b"event: add\nid: 7\ndata: 73857293\n\n");
        assert_eq!(got, outcome(vec![ev("add", "73857293", "7")], "7", None));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let got = interpret(b"foo: bar\ndata: x\nbaz\n: comment\nevents: y\n\n");
        assert_eq!(got.outputs, vec![ev("message", "x", "")]);
    }

    #[test]
    fn field_names_are_case_sensitive() {
        let got = interpret(b"Data: a\nDATA: b\nEvent: e\nID: 1\nRetry: 5\n\ndata: c\n\n");
        assert_eq!(got, outcome(vec![ev("message", "c", "")], "", None));
    }

    #[test]
    fn field_name_with_space_is_not_data() {
        // The field name is everything before the first colon, spaces
        // included.
        let got = interpret(b"data : a\n data: b\n\n");
        assert_eq!(got, Outcome::default());
    }

    #[test]
    fn colon_in_value_is_kept() {
        let got = interpret(b"data: a:b: c\nevent: x:y\n\n");
        assert_eq!(got.outputs, vec![ev("x:y", "a:b: c", "")]);
    }

    #[test]
    fn comment_lines_are_ignored() {
        let got = interpret(b":\n: data: x\n:data: y\ndata: z\n\n");
        assert_eq!(got.outputs, vec![ev("message", "z", "")]);
    }

    #[test]
    fn comment_only_block_fires_nothing() {
        assert_eq!(interpret(b": keep-alive\n\n"), Outcome::default());
    }

    #[test]
    fn unterminated_last_event_is_discarded() {
        let got = interpret(b"data: 1\n\nid: 2\nevent: e\ndata: 2\n");
        assert_eq!(got, outcome(vec![ev("message", "1", "")], "", None));
        // Same when the last line itself has no terminator.
        let got = interpret(b"data: 1\n\ndata: 2");
        assert_eq!(got.outputs, vec![ev("message", "1", "")]);
    }

    #[test]
    fn unterminated_last_line_is_not_a_blank_line() {
        // The data line is complete, but nothing after it ends a blank line.
        let got = interpret(b"data: 1\nid");
        assert_eq!(got, Outcome::default());
    }

    #[test]
    fn nul_inside_data_is_kept() {
        let got = interpret(b"data: a\x00b\nevent: t\x00u\n\n");
        assert_eq!(got.outputs, vec![ev("t\u{0}u", "a\u{0}b", "")]);
    }

    #[test]
    fn only_one_trailing_lf_removed_from_data() {
        let got = interpret(b"data:\ndata:\ndata:\n\n");
        assert_eq!(got.outputs, vec![ev("message", "\n\n", "")]);
    }

    #[test]
    fn several_blank_lines_fire_once() {
        let got = interpret(b"data: x\n\n\n\n");
        assert_eq!(got.outputs, vec![ev("message", "x", "")]);
    }

    #[test]
    fn events_helper_lists_only_events() {
        let got = interpret(b"retry: 1\nid: i\nevent: t\ndata: d\n\n");
        assert_eq!(
            got.events(),
            vec![("t".to_string(), "d".to_string(), "i".to_string())]
        );
        assert_eq!(got.outputs.len(), 2);
        assert_eq!(got.retry_ms, Some(1));
    }
}
