//! A tokio-util codec: bytes to [`Frame`]s with [`FramedRead`], and
//! [`ServerEvent`]s to bytes with [`FramedWrite`].
//!
//! [`FramedRead`]: tokio_util::codec::FramedRead
//! [`FramedWrite`]: tokio_util::codec::FramedWrite
//!
//! `Framed` ends the stream after any `Err`, so an event that is too large
//! (after which decoding can go on) is an *item*, `Err(DecodeError)`, not a
//! codec error. At the end of the input an unterminated event is dropped,
//! as the standard says.
//!
//! # Example
//!
//! ```
//! use futures_util::StreamExt;
//! use sse_proto::adapter::codec::SseCodec;
//! use sse_proto::Frame;
//! use tokio_util::codec::FramedRead;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let input: &[u8] = b"data: one\n\ndata: two\n\ndata: never ended\n";
//! let frames: Vec<_> = FramedRead::new(input, SseCodec::new()).collect().await;
//! let data: Vec<String> = frames
//!     .into_iter()
//!     .filter_map(|f| match f {
//!         Ok(Ok(Frame::Event(e))) => Some(e.data().into_owned()),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(data, ["one", "two"]);
//! # });
//! ```

use std::fmt;
use std::io;

use bytes::BytesMut;

use crate::decoder::{DecodeError, Decoder, Frame};
use crate::encoder::{encode_to, EncodeError, EventRef, ServerEvent};

/// The codec. It owns a [`Decoder`] (configure it with
/// [`SseCodec::with_decoder`]).
#[derive(Debug, Default)]
pub struct SseCodec {
    /// Holds the input taken from the read buffer and not yet decoded.
    decoder: Decoder,
}

impl SseCodec {
    /// A codec with a default decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec with this decoder (its limit, its last event ID).
    pub fn with_decoder(decoder: Decoder) -> Self {
        SseCodec { decoder }
    }

    /// The decoder, for its last event ID and reconnection time.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Gives the decoder back, with the input it holds and has not decoded
    /// yet (feed it on with [`Decoder::next_frame`]).
    pub fn into_decoder(self) -> Decoder {
        self.decoder
    }
}

/// The codec's error: the transport's, or an event the encoder refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The encoder refused an event; nothing of it was written.
    Encode(EncodeError),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Io(e) => write!(f, "i/o error: {e}"),
            CodecError::Encode(e) => write!(f, "cannot encode the event: {e}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Io(e) => Some(e),
            CodecError::Encode(e) => Some(e),
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        CodecError::Io(e)
    }
}

impl tokio_util::codec::Decoder for SseCodec {
    type Item = Result<Frame, DecodeError>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        // Take all the buffered input; values whole in it are shared, not
        // copied.
        if !src.is_empty() {
            self.decoder.push(src.split().freeze());
        }
        Ok(self.decoder.next_frame())
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None => {
                // All input is decoded: what `finish` drops is an event
                // whose blank line never came, as the standard says.
                let _ = self.decoder.finish();
                Ok(None)
            }
        }
    }
}

impl tokio_util::codec::Encoder<&ServerEvent> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, event: &ServerEvent, dst: &mut BytesMut) -> Result<(), CodecError> {
        event.encode_to(dst).map(drop).map_err(CodecError::Encode)
    }
}

impl tokio_util::codec::Encoder<ServerEvent> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, event: ServerEvent, dst: &mut BytesMut) -> Result<(), CodecError> {
        tokio_util::codec::Encoder::encode(self, &event, dst)
    }
}

impl tokio_util::codec::Encoder<EventRef<'_>> for SseCodec {
    type Error = CodecError;

    fn encode(&mut self, event: EventRef<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_to(&event, dst).map(drop).map_err(CodecError::Encode)
    }
}
