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
