//! `sse-cat` as its users run it: the binary, on files and standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use sse_codec_tests::vectors;

fn sse_cat(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sse-cat"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sse-cat starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // A writer thread, so that a large input cannot deadlock against output.
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&input));
    let out = child.wait_with_output().expect("sse-cat runs");
    let _ = writer.join();
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("output is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The contract: every vector, through `sse-cat --json --chunk-size N`,
/// gives the expected events and final retry value.
#[test]
fn json_output_matches_every_vector_at_every_chunk_size() {
    let mut failures = Vec::new();
    for v in vectors() {
        let input = v.input();
        for size in ["1", "2", "3", "7", "whole"] {
            let args: Vec<&str> = match size {
                "whole" => vec!["--json"],
                n => vec!["--json", "--chunk-size", n],
            };
            let out = sse_cat(&args, &input);
            assert!(out.status.success(), "{}: exit {:?}", v.name, out.status);
            let lines = json_lines(&out);
            let events: Vec<Value> = lines
                .iter()
                .filter(|l| l.get("type").is_some())
                .cloned()
                .collect();
            let expected: Vec<Value> = v
                .events
                .iter()
                .map(|e| json!({"type": e.event_type, "data": e.data, "last_event_id": e.last_event_id}))
                .collect();
            let retry = lines
                .iter()
                .rev()
                .find_map(|l| l.get("retry_ms"))
                .and_then(Value::as_u64);
            if events != expected || retry != v.retry_ms {
                failures.push(format!("{} at chunk size {size}: got {lines:?}", v.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_lines_have_exactly_the_documented_keys_in_order() {
    let out = sse_cat(&["--json"], b"retry: 7\nid: 1\nevent: e\ndata: d\n\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"retry_ms\":7}\n{\"type\":\"e\",\"data\":\"d\",\"last_event_id\":\"1\"}\n"
    );
}

#[test]
fn bundled_sample_shows_its_events() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/ticker.sse");
    let out = sse_cat(&[sample], b"");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("~ retry: 2500 ms\n--- quote (id: 1)\n"),
        "{text}"
    );
    assert_eq!(text.matches("--- ").count(), 8, "{text}");
    // The last event of the sample has no blank line: dropped, and said so.
    assert!(String::from_utf8_lossy(&out.stderr).contains("discarded"));
    // Same events, read from standard input one byte at a time.
    let bytes = std::fs::read(sample).expect("sample exists");
    let piped = sse_cat(&["-", "--chunk-size", "1"], &bytes);
    assert_eq!(piped.stdout, out.stdout);
}

#[test]
fn unreadable_file_is_a_clear_error() {
    let out = sse_cat(&["/nonexistent/stream.sse"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read /nonexistent/stream.sse"), "{err}");
}

#[test]
fn bad_flags_are_rejected() {
    for args in [
        &["--chunk-size", "0"][..],
        &["--chunk-size", "x"],
        &["--nope"],
    ] {
        let out = sse_cat(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn oversized_events_are_reported_and_skipped() {
    let out = sse_cat(
        &["--json", "--max-event-size", "4"],
        b"data: too long\n\ndata: ok\n\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_lines(&out),
        [json!({"type": "message", "data": "ok", "last_event_id": ""})]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("limit of 4 bytes"));
}

#[test]
fn arbitrary_bytes_never_crash_it() {
    // A deterministic pseudo-random stream with SSE syntax mixed in.
    let mut x: u32 = 0x9E37_79B9;
    let mut input = Vec::new();
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        input.push(match x % 8 {
            0 => b'\n',
            1 => b'\r',
            2 => b':',
            _ => (x >> 8) as u8,
        });
    }
    for size in ["1", "5", "4096"] {
        let out = sse_cat(&["--json", "--chunk-size", size], &input);
        assert!(
            out.status.success(),
            "exit {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out);
    }
}

/// `sse-cat --encode | sse-cat --json` gives back its input, for the
/// `--json` output of every vector.
#[test]
fn encode_then_json_is_the_identity_on_every_vector() {
    let mut checked = 0;
    for v in vectors() {
        let json = sse_cat(&["--json"], &v.input()).stdout;
        let stream = sse_cat(&["--encode"], &json);
        assert!(
            stream.status.success(),
            "{}: {}",
            v.name,
            String::from_utf8_lossy(&stream.stderr)
        );
        let again = sse_cat(&["--json"], &stream.stdout);
        assert_eq!(
            String::from_utf8_lossy(&again.stdout),
            String::from_utf8_lossy(&json),
            "{}: through {:?}",
            v.name,
            String::from_utf8_lossy(&stream.stdout)
        );
        checked += 1;
    }
    assert!(checked >= 100);
}

#[test]
fn encode_writes_id_lines_only_when_the_id_changes() {
    let input = concat!(
        r#"{"type":"message","data":"a","last_event_id":""}"#,
        "\n",
        r#"{"type":"t","data":"b\r\nc","last_event_id":"1"}"#,
        "\n",
        "\n",
        r#"{"retry_ms":5}"#,
        "\n",
        r#"{"data":"d","last_event_id":"1"}"#,
        "\n",
        r#"{"data":"e","last_event_id":""}"#,
        "\n",
    );
    let out = sse_cat(&["--encode"], input.as_bytes());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "data: a\n\nevent: t\nid: 1\ndata: b\ndata: c\n\nretry: 5\n\ndata: d\n\nid:\ndata: e\n\n"
    );
}

#[test]
fn encode_reports_invalid_lines_by_number() {
    let cases: [(&str, &str); 5] = [
        (
            "{\"data\":\"ok\"}\nnot json\n",
            "line 2: not a JSON event: expected ident (column 2)",
        ),
        (
            "{\"dat\":\"x\"}\n",
            "line 1: not a JSON event: unknown field `dat`",
        ),
        (
            "{\"data\":\"ok\"}\n\n{\"type\":\"a\\nb\",\"data\":\"x\"}\n",
            "line 3: the event type has a line break at byte 1",
        ),
        (
            "{\"data\":\"x\",\"last_event_id\":\"a\\u0000b\"}\n",
            "line 1: the id has a NUL at byte 1",
        ),
        ("{\"type\":\"t\"}\n", "line 1: \"type\" needs \"data\""),
    ];
    for (input, message) in cases {
        let out = sse_cat(&["--encode"], input.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{input:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{input:?}: {err}");
    }
    // What came before the bad line is written: valid events are not lost.
    let out = sse_cat(&["--encode"], b"{\"data\":\"ok\"}\nnot json\n");
    assert_eq!(out.stdout, b"data: ok\n\n");
}

#[test]
fn control_characters_from_the_stream_are_shown_escaped_not_sent_to_the_terminal() {
    // (A CR or LF in the stream ends a line: only the data's line breaks,
    // shown as separate lines, can carry them.)
    let stream =
        b"event: x\x1b]0;owned\x07\nid: \xe2\x80\xae1\ndata: \x1b[2Jcleared\tand \xc2\x9b\n\n";
    let out = sse_cat(&[], stream);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(
        text,
        "--- x\\u{1b}]0;owned\\u{7} (id: \\u{202e}1)\n  \\u{1b}[2Jcleared\\tand \\u{9b}\n"
    );
    assert!(!text.contains('\x1b') && !text.contains('\u{9b}') && !text.contains('\u{202e}'));
    // The JSON output is for programs: it keeps the text as it is (escaped
    // by JSON).
    let lines = json_lines(&sse_cat(&["--json"], stream));
    assert_eq!(lines[0]["data"], "\x1b[2Jcleared\tand \u{9b}");
}

#[test]
fn a_url_without_a_scheme_or_with_another_one_is_a_clear_error_not_a_file_or_a_retry_loop() {
    for (input, says) in [
        ("localhost:8080/events", "neither a file nor a URL"),
        ("127.0.0.1:8080/events", "neither a file nor a URL"),
        ("localhost/events", "neither a file nor a URL"),
        ("ftp://example.com/events", "not http or https"),
        ("ws://127.0.0.1:8080/", "not http or https"),
    ] {
        let out = sse_cat(&[input], b"");
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{input}: {err}");
    }
    // A request body or method without a URL is a usage error too.
    let out = sse_cat(&["-d", "{}", "sse-cat/samples/ticker.sse"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-X and -d"));
}

#[test]
fn help_shows_every_mode_with_an_example() {
    let out = sse_cat(&["--help"], b"");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for example in [
        "sse-cat stream.sse",
        "sse-cat --json stream.sse",
        "sse-cat --chunk-size 1 stream.sse",
        "sse-cat --encode",
        "sse-cat http://127.0.0.1:8080/events",
        "sse-cat -X POST",
        "-d @request.json",
    ] {
        assert!(help.contains(example), "--help lacks {example:?}:\n{help}");
    }
}

/// `script` (util-linux, in every Debian) gives sse-cat a terminal.
#[cfg(target_os = "linux")]
#[test]
fn a_bare_sse_cat_on_a_terminal_says_it_reads_standard_input() {
    let command = env!("CARGO_BIN_EXE_sse-cat");
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    // Ctrl-D on the terminal ends sse-cat's input (the terminal keeps it
    // until sse-cat reads, whenever that is).
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(b"\x04");
    drop(stdin);
    let out = child.wait_with_output().expect("script exits");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("reading a stream from standard input"),
        "{shown:?}"
    );
    // On a pipe it says nothing: a program reading its output expects none.
    let out = sse_cat(&[], b"data: x\n\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
