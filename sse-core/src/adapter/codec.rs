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

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::{String, ToString};
    use std::time::Duration;
    use tokio_util::codec::{Decoder as _, Encoder as _};

    fn data(item: Option<Result<Frame, DecodeError>>) -> String {
        match item {
            Some(Ok(Frame::Event(e))) => e.data().into_owned(),
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn a_codec_decodes_with_the_decoder_it_is_given_and_gives_it_back() {
        let decoder = Decoder::new().with_last_event_id("7").max_event_size(16);
        let mut codec = SseCodec::with_decoder(decoder);
        assert_eq!(codec.decoder().last_event_id(), "7");

        // The decoder's limit holds, and the buffer is taken whole.
        let mut src = BytesMut::from("data: 0123456789abcdefghij\n\nid: 8\ndata: ok\n\nda");
        assert_eq!(
            codec.decode(&mut src).unwrap(),
            Some(Err(DecodeError::TooLarge {
                limit: 16,
                offset: 6
            }))
        );
        assert!(src.is_empty());
        assert_eq!(data(codec.decode(&mut src).unwrap()), "ok");
        assert_eq!(codec.decoder().last_event_id(), "8");
        assert_eq!(codec.decode(&mut src).unwrap(), None);

        // What the codec holds and has not decoded goes back with the
        // decoder.
        let mut decoder = codec.into_decoder();
        decoder.push("ta: rest\n\n");
        match decoder.next_frame() {
            Some(Ok(Frame::Event(e))) => {
                assert_eq!(e.data(), "rest");
                assert_eq!(e.last_event_id(), "8");
            }
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn decode_eof_hands_out_the_last_events_then_drops_an_unterminated_one() {
        let mut codec = SseCodec::new();
        let mut src = BytesMut::from("data: a\n\ndata: b\n\ndata: never ended\n");
        assert_eq!(data(codec.decode_eof(&mut src).unwrap()), "a");
        assert_eq!(data(codec.decode_eof(&mut src).unwrap()), "b");
        assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
        // The unterminated event is gone: a blank line now ends nothing.
        let mut src = BytesMut::from("\n");
        assert_eq!(codec.decode(&mut src).unwrap(), None);
        let mut decoder = codec.into_decoder();
        decoder.push("data: next\n\n");
        assert!(matches!(decoder.next_frame(), Some(Ok(Frame::Event(e))) if e.data() == "next"));
    }

    #[test]
    fn each_encoder_appends_the_event_and_a_refused_event_writes_nothing() {
        let event = ServerEvent::new()
            .event("tick")
            .id("3")
            .retry(Duration::from_millis(1500))
            .data("a\nb");
        let wire = "event: tick\nid: 3\nretry: 1500\ndata: a\ndata: b\n\n";
        let mut codec = SseCodec::new();

        let mut dst = BytesMut::from(": before\n");
        codec.encode(&event, &mut dst).unwrap();
        assert_eq!(dst, [": before\n", wire].concat().as_bytes());

        let mut dst = BytesMut::new();
        codec.encode(event.clone(), &mut dst).unwrap();
        assert_eq!(dst, wire.as_bytes());

        let mut dst = BytesMut::new();
        codec.encode(event.as_event_ref(), &mut dst).unwrap();
        assert_eq!(dst, wire.as_bytes());

        let bad = EventRef {
            event: Some("tick\ndata: injected"),
            data: Some("x"),
            ..EventRef::default()
        };
        let mut dst = BytesMut::from("kept");
        let error = codec.encode(bad, &mut dst).unwrap_err();
        assert!(matches!(
            error,
            CodecError::Encode(EncodeError::LineBreak { at: 4, .. })
        ));
        let error = codec
            .encode(ServerEvent::new().id("a\0b").data("x"), &mut dst)
            .unwrap_err();
        assert!(matches!(
            error,
            CodecError::Encode(EncodeError::NulInId { at: 1 })
        ));
        assert_eq!(dst, "kept".as_bytes());
    }

    #[test]
    fn codec_errors_say_what_failed_and_give_its_cause() {
        use std::error::Error as _;
        let io = CodecError::from(io::Error::new(io::ErrorKind::BrokenPipe, "peer gone"));
        assert!(matches!(&io, CodecError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe));
        assert_eq!(io.to_string(), "i/o error: peer gone");
        assert_eq!(io.source().unwrap().to_string(), "peer gone");

        let cause = EncodeError::NulInId { at: 2 };
        let encode = CodecError::Encode(cause);
        assert_eq!(
            encode.to_string(),
            format!("cannot encode the event: {cause}")
        );
        assert_eq!(encode.source().unwrap().to_string(), cause.to_string());
    }
}
