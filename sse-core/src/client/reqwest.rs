//! A [`Connector`] over reqwest (feature `reqwest`): rustls with the webpki
//! roots, no OpenSSL, HTTP/1.1 and HTTP/2.

use std::boxed::Box;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

use super::{Connector, Error, Request, Response};

/// Opens each attempt's request to one URL with a reqwest client.
///
/// Redirects are followed as [`Connector`] says (reqwest's own rules: up to
/// 10, credentials kept to the same origin only, 303 and a POST's 301 or 302
/// become a GET, the body re-sent on 307 and 308), and a loop is a fatal
/// error. Nothing asks for or decodes compression: the client sends
/// `Accept-Encoding: identity`, and a compressed body stops the session.
#[derive(Debug, Clone)]
pub struct ReqwestConnector {
    client: ::reqwest::Client,
    url: ::reqwest::Url,
}

impl ReqwestConnector {
    /// A connector for `url`, with a reqwest client of its own.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidRequest`](super::ErrorKind::InvalidRequest) for a
    /// URL that does not parse, or whose scheme is not `http` or `https`.
    pub fn new(url: &str) -> Result<Self, Error> {
        let client = ::reqwest::Client::builder()
            .redirect(::reqwest::redirect::Policy::custom(follow))
            .build()
            .map_err(Error::invalid_request)?;
        Self::with_client(client, url)
    }

    /// A connector for `url` over `client`, which should follow redirects
    /// and should not decompress (reqwest's default without its `gzip`,
    /// `brotli`, `deflate` and `zstd` features).
    ///
    /// # Errors
    ///
    /// As [`ReqwestConnector::new`].
    pub fn with_client(client: ::reqwest::Client, url: &str) -> Result<Self, Error> {
        Ok(ReqwestConnector {
            client,
            url: parse_url(url)?,
        })
    }
}

/// An `http` or `https` URL.
pub(crate) fn parse_url(url: &str) -> Result<::reqwest::Url, Error> {
    let parsed = ::reqwest::Url::parse(url)
        .map_err(|e| Error::invalid_request(std::format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(Error::invalid_request(std::format!(
            "unsupported scheme {other:?} in {url:?}: only http and https"
        ))),
    }
}

/// Follows up to 10 redirects; a URL seen before is a loop.
fn follow(attempt: ::reqwest::redirect::Attempt<'_>) -> ::reqwest::redirect::Action {
    if attempt.previous().contains(attempt.url()) {
        let message = std::format!("redirect loop back to {}", attempt.url());
        attempt.error(message)
    } else if attempt.previous().len() > super::MAX_REDIRECTS {
        attempt.error("more than 10 redirects")
    } else {
        attempt.follow()
    }
}

impl Connector for ReqwestConnector {
    type Body = BoxStream<'static, Result<Bytes, Error>>;

    async fn connect(&self, request: &Request) -> Result<Response<Self::Body>, Error> {
        let response = self
            .client
            .request(request.method.clone(), self.url.clone())
            .headers(request.headers.clone())
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_redirect() {
                    Error::redirect(e)
                } else if e.is_builder() {
                    Error::invalid_request(e)
                } else {
                    Error::connect(e)
                }
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes_stream()
            .map_err(|e| Error::body(Box::new(e) as Box<dyn std::error::Error + Send + Sync>))
            .boxed();
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}
