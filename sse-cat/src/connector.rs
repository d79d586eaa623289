//! A [`Connector`] over hyper 1.x, for http and https (rustls with the
//! webpki roots, ring as the crypto provider).

use std::fmt;

use bytes::Bytes;
use futures_util::stream::{MapErr, TryStreamExt};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{Request, Uri};
use http_body_util::{BodyDataStream, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sse_proto::client::{Connector, Response};
use sse_proto::session::Connect;

/// Why a request failed.
#[derive(Debug)]
pub enum HttpError {
    /// A header value the caller gave is not valid in HTTP.
    Header(http::Error),
    /// The request failed: DNS, connect, TLS, or the server hung up.
    Request(hyper_util::client::legacy::Error),
    /// The body failed mid-way.
    Body(hyper::Error),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Header(e) => write!(f, "invalid request header: {e}"),
            HttpError::Request(e) => {
                write!(f, "request failed: {e}")?;
                // hyper-util's own message is terse; the cause says what happened.
                let mut source = std::error::Error::source(e);
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
            HttpError::Body(e) => write!(f, "body failed: {e}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The body stream a [`HyperConnector`] hands out.
pub type Body = MapErr<BodyDataStream<Incoming>, fn(hyper::Error) -> HttpError>;

/// Opens a GET request to one URL for each attempt, with the session's
/// headers and any extra headers of the caller's (an `Authorization`, say).
#[derive(Clone)]
pub struct HyperConnector {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for HyperConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperConnector")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl HyperConnector {
    /// A connector for `uri` (`http://` or `https://`).
    pub fn new(uri: Uri) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            // Only fails when the provider lacks TLS 1.2 and 1.3; ring has both.
            .unwrap_or_else(|e| panic!("ring supports the default TLS versions: {e}"))
            .https_or_http()
            .enable_http1()
            .build();
        HyperConnector {
            client: Client::builder(TokioExecutor::new()).build(https),
            uri,
            headers: Vec::new(),
        }
    }

    /// Adds a header to every request.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl Connector for HyperConnector {
    type Body = Body;
    type Error = HttpError;

    async fn connect(&self, request: &Connect) -> Result<Response<Body>, HttpError> {
        let mut builder = Request::get(self.uri.clone());
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        let request = builder.body(Empty::new()).map_err(HttpError::Header)?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(HttpError::Request)?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| Bytes::copy_from_slice(v.as_bytes()))
        };
        let (content_type, retry_after) = (header(CONTENT_TYPE), header(RETRY_AFTER));
        let status = response.status().as_u16();
        let body = BodyDataStream::new(response.into_body())
            .map_err(HttpError::Body as fn(hyper::Error) -> HttpError);
        Ok(Response {
            status,
            content_type,
            retry_after,
            body,
        })
    }
}
