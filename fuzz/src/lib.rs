//! What the fuzz targets share: the input format that says how to cut the
//! stream into chunks, and a panic hook that prints the failing input in a
//! form ready to paste into a regression test.
//!
//! # Input format
//!
//! ```text
//! byte 0        header: low 4 bits = k, the number of chunk lengths that follow;
//!               high 4 bits = a knob each target uses as it likes
//! bytes 1..=k   chunk lengths, 0 to 255, used in turn and over again until the
//!               stream is used up; 0 feeds an empty chunk
//! the rest      the stream
//! ```
//!
//! With `k = 0`, or only zero lengths, the stream is one chunk. So a seed made
//! from a plain stream is `\x00` followed by the stream, and `\x01\x01`
//! followed by the stream feeds it one byte at a time.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::{Once, OnceLock};

/// A fuzz input, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input<'a> {
    /// The header's high 4 bits.
    pub knob: u8,
    /// The chunk lengths, as given (before repetition).
    pub cycle: Vec<usize>,
    /// The stream.
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    /// Decodes the fuzzer's bytes; any bytes are a valid input.
    pub fn new(data: &'a [u8]) -> Self {
        let Some((&header, rest)) = data.split_first() else {
            return Input {
                knob: 0,
                cycle: Vec::new(),
                stream: &[],
            };
        };
        let k = usize::from(header & 0x0f).min(rest.len());
        let (lens, stream) = rest.split_at(k);
        Input {
            knob: header >> 4,
            cycle: lens.iter().map(|&l| usize::from(l)).collect(),
            stream,
        }
    }

    /// The lengths of the chunks, in order, adding up to exactly
    /// `stream.len()`. Empty chunks are kept (but never more than one in a row
    /// per length in the cycle, so there are at most `stream.len() * k + 1`).
    pub fn lens(&self) -> Vec<usize> {
        let len = self.stream.len();
        if self.cycle.iter().all(|&l| l == 0) {
            return vec![len];
        }
        let mut lens = Vec::new();
        let mut at = 0;
        'outer: loop {
            for &l in &self.cycle {
                if at == len {
                    break 'outer;
                }
                let l = l.min(len - at);
                lens.push(l);
                at += l;
            }
        }
        if lens.is_empty() {
            // An empty stream: still one (empty) chunk.
            lens.push(0);
        }
        lens
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        let mut at = 0;
        self.lens()
            .into_iter()
            .map(|l| {
                let chunk = &self.stream[at..at + l];
                at += l;
                chunk
            })
            .collect()
    }

    /// A description for a failure report: the chunking and the stream as a
    /// Rust byte string literal.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let lens = self.lens();
        let _ = writeln!(s, "knob: {}", self.knob);
        let _ = writeln!(s, "chunk lengths (repeated): {:?}", self.cycle);
        if lens.len() <= 64 {
            let _ = writeln!(s, "chunk lengths (all {}): {:?}", lens.len(), lens);
        } else {
            let _ = writeln!(s, "chunks: {}", lens.len());
        }
        let _ = writeln!(
            s,
            "stream ({} bytes): {}",
            self.stream.len(),
            literal(self.stream)
        );
        s
    }
}

/// `bytes` as a Rust byte string literal, `b"..."`.
pub fn literal(bytes: &[u8]) -> String {
    format!("b\"{}\"", bytes.escape_ascii())
}

/// Whether the known, not yet fixed, finding `name` is to be looked past:
/// `SSE_FUZZ_KNOWN` holds a comma-separated list of names (see README.md,
/// "Known findings"). Unset, as in CI, every check is on.
pub fn known(name: &str) -> bool {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("SSE_FUZZ_KNOWN")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|k| k == name)
}

thread_local! {
    static CURRENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Remembers `data` as the input being run, so that a panic (an assertion of
/// the target, or one inside `sse-proto`) prints it decoded, before libFuzzer
/// aborts and writes the artifact. Call first thing in a target.
pub fn on_panic_describe(data: &[u8]) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // libfuzzer-sys has installed its hook (print, then abort) by now.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            CURRENT.with(|current| {
                if let Ok(data) = current.try_borrow() {
                    eprintln!(
                        "\n==== sse-proto-fuzz: failing input ====\n{}======================================\n",
                        Input::new(&data).describe()
                    );
                }
            });
            previous(info);
        }));
    });
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        current.clear();
        current.extend_from_slice(data);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_lengths() {
        let input = Input::new(b"\x00data: x\n\n");
        assert_eq!(input.lens(), [9]);
        let input = Input::new(b"\x21\x03abcdefgh");
        assert_eq!(input.knob, 2);
        assert_eq!(input.lens(), [3, 3, 2]);
        let input = Input::new(b"\x02\x00\x05abcdefgh");
        assert_eq!(input.lens(), [0, 5, 0, 3]);
        assert_eq!(input.chunks(), [&b""[..], b"abcde", b"", b"fgh"]);
        let input = Input::new(b"\x02\x00\x00abc");
        assert_eq!(input.lens(), [3]);
        // Fewer bytes than the header asks for: they are all lengths.
        let input = Input::new(b"\x0f\x01\x02");
        assert_eq!((input.stream, input.lens()), (&b""[..], vec![0]));
        assert_eq!(Input::new(b"").lens(), [0]);
    }

    #[test]
    fn literal_escapes() {
        assert_eq!(literal(b"a\"\\\r\n\0\xff"), r#"b"a\"\\\r\n\x00\xff""#);
    }
}
