//! A `Stream` of byte chunks to a `Stream` of frames.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use futures_util::{stream, StreamExt};
//! use sse_proto::adapter::stream::EventStream;
//! use sse_proto::Frame;
//!
//! # futures_util::FutureExt::now_or_never(async {
//! let chunks = stream::iter([Ok::<_, std::io::Error>(Bytes::from("data: a\r")), Ok(Bytes::from("\n\n"))]);
//! let frames: Vec<_> = EventStream::new(chunks).collect().await;
//! assert!(matches!(&frames[..], [Ok(Frame::Event(e))] if e.data() == "a"));
//! # }).unwrap();
//! ```

use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::fmt;

use bytes::Bytes;
use futures_core::Stream;

use crate::decoder::{DecodeError, Decoder, Frame};

/// Frames decoded from a stream of byte chunks (a hyper body's data, a
/// reqwest `bytes_stream`, ...).
///
/// It ends when the input ends (dropping an unterminated event, as the
/// standard says). A transport error is handed on and the stream goes on if
/// the input does; an oversized event is an error item and decoding goes on.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct EventStream<S> {
    inner: S,
    /// Holds the input read and not yet decoded.
    decoder: Decoder,
    /// The input ended; `None` follows the last frame.
    done: bool,
}

/// An error item of an [`EventStream`].
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// The input stream failed.
    Transport(E),
    /// An event was too large and was skipped.
    Decode(DecodeError),
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Transport(e) => write!(f, "transport error: {e}"),
            StreamError::Decode(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for StreamError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Transport(e) => Some(e),
            StreamError::Decode(e) => Some(e),
        }
    }
}

impl<S> EventStream<S> {
    /// Decodes `inner` with a default [`Decoder`].
    pub fn new(inner: S) -> Self {
        Self::with_decoder(inner, Decoder::new())
    }

    /// Decodes `inner` with this decoder (its limit, its last event ID).
    pub fn with_decoder(inner: S, decoder: Decoder) -> Self {
        EventStream {
            inner,
            decoder,
            done: false,
        }
    }

    /// The decoder, for its last event ID and reconnection time.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Gives back the input stream and the decoder, with the input it holds
    /// and has not decoded yet.
    pub fn into_parts(self) -> (S, Decoder) {
        (self.inner, self.decoder)
    }
}

impl<S, B, E> futures_core::FusedStream for EventStream<S>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: Into<Bytes>,
{
    fn is_terminated(&self) -> bool {
        // `finish` ran when the input ended: nothing is left to hand out.
        self.done
    }
}

impl<S, B, E> Stream for EventStream<S>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: Into<Bytes>,
{
    type Item = Result<Frame, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.decoder.next_frame() {
                return Poll::Ready(Some(item.map_err(StreamError::Decode)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(chunk)) => this.decoder.push(chunk),
                Some(Err(e)) => return Poll::Ready(Some(Err(StreamError::Transport(e)))),
                None => {
                    // All input is decoded: what `finish` drops is an event
                    // whose blank line never came, as the standard says.
                    let _ = this.decoder.finish();
                    this.done = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{stream, StreamExt};
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// A stream of chunks and transport errors (`Err(text)`).
    fn input(
        items: &[Result<&'static str, &'static str>],
    ) -> impl Stream<Item = Result<Bytes, Io>> + Unpin {
        let items: Vec<Result<Bytes, Io>> = items
            .iter()
            .map(|i| match *i {
                Ok(c) => Ok(Bytes::from_static(c.as_bytes())),
                Err(e) => Err(Io(e)),
            })
            .collect();
        stream::iter(items)
    }

    #[derive(Debug, PartialEq)]
    struct Io(&'static str);

    impl fmt::Display for Io {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Io {}

    fn shape(item: &Result<Frame, StreamError<Io>>) -> String {
        match item {
            Ok(Frame::Event(e)) => std::format!("event {}", e.data()),
            Ok(other) => std::format!("{other:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn frames_come_across_chunks_and_a_transport_error_is_handed_on_mid_stream() {
        let chunks = input(&[
            Ok("data: a"),
            Err("reset"),
            Ok("\n\ndata: b\n\ndata: lost\n"),
        ]);
        let mut frames = EventStream::new(chunks);
        assert!(!futures_core::FusedStream::is_terminated(&frames));
        let mut got = Vec::new();
        while let Some(item) = frames.next().await {
            got.push(shape(&item));
            if let Err(StreamError::Transport(e)) = &item {
                assert_eq!(e, &Io("reset"));
            }
        }
        assert_eq!(got, ["transport error: reset", "event a", "event b"]);
        assert!(futures_core::FusedStream::is_terminated(&frames));
        assert!(frames.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_decodes_with_the_decoder_it_is_given_and_gives_it_back() {
        let decoder = Decoder::new().with_last_event_id("7").max_event_size(16);
        let chunks = input(&[Ok("data: 0123456789abcdefghij\n\nid: 8\ndata: ok\n\n")]);
        let mut frames = EventStream::with_decoder(chunks, decoder);
        assert_eq!(frames.decoder().last_event_id(), "7");
        let error = frames.next().await.unwrap().unwrap_err();
        assert!(matches!(
            error,
            StreamError::Decode(DecodeError::TooLarge {
                limit: 16,
                offset: 6
            })
        ));
        assert_eq!(frames.next().await.map(|i| shape(&i)).unwrap(), "event ok");
        assert_eq!(frames.decoder().last_event_id(), "8");

        // Not yet at the end: the parts come back with what is undecoded.
        let chunks = input(&[Ok("data: one\n\ndata: two\n\n"), Ok("data: three\n\n")]);
        let mut frames = EventStream::new(chunks);
        assert_eq!(frames.next().await.map(|i| shape(&i)).unwrap(), "event one");
        assert!(!futures_core::FusedStream::is_terminated(&frames));
        let (mut rest, mut decoder) = frames.into_parts();
        assert!(matches!(decoder.next_frame(), Some(Ok(Frame::Event(e))) if e.data() == "two"));
        assert_eq!(rest.next().await.unwrap().unwrap(), "data: three\n\n");
        assert!(rest.next().await.is_none());
    }

    #[test]
    fn stream_errors_say_what_failed_and_give_its_cause() {
        use std::error::Error as _;
        let transport: StreamError<Io> = StreamError::Transport(Io("reset"));
        assert_eq!(transport.to_string(), "transport error: reset");
        assert_eq!(transport.source().unwrap().to_string(), "reset");

        let cause = DecodeError::TooLarge {
            limit: 16,
            offset: 6,
        };
        let text = cause.to_string();
        let decode: StreamError<Io> = StreamError::Decode(cause);
        assert_eq!(decode.to_string(), text);
        assert_eq!(decode.source().unwrap().to_string(), text);
    }
}
