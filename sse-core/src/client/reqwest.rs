//! A [`Connector`] over reqwest (feature `reqwest`): rustls with the webpki
//! roots, no OpenSSL, HTTP/1.1 and HTTP/2.

use std::boxed::Box;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

use http::header::LOCATION;
use url::Url;

use super::redirect::{parse_url, Redirects};
use super::{Connector, Error, Request, Response};

/// Opens each attempt's request to one URL with a reqwest client.
///
/// Redirects are followed as [`Connector`] says: up to 10; `Authorization`
/// and `Cookie` are sent to the first origin only, and once dropped stay
/// dropped; 303, and 301 or 302 after a POST, become a GET; the body is
/// re-sent on 307 and 308; a loop is a fatal error. The connector follows
/// them itself (reqwest's own redirects are off), so that both ready
/// connectors follow the same rules. Nothing asks for or decodes
/// compression: the client sends `Accept-Encoding: identity`, and a
/// compressed body stops the session.
#[derive(Debug, Clone)]
pub struct ReqwestConnector {
    client: ::reqwest::Client,
    url: Url,
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
            .redirect(::reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::invalid_request)?;
        Self::with_client(client, url)
    }

    /// A connector for `url` over `client`, which should neither follow
    /// redirects (the connector does) nor decompress (reqwest's default
    /// without its `gzip`, `brotli`, `deflate` and `zstd` features).
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

impl Connector for ReqwestConnector {
    type Body = BoxStream<'static, Result<Bytes, Error>>;

    async fn connect(&self, request: &Request) -> Result<Response<Self::Body>, Error> {
        let (mut redirects, mut hop) = Redirects::start(&self.url, request);
        loop {
            let response = self
                .client
                .request(hop.method.clone(), hop.url.clone())
                .headers(hop.headers.clone())
                .body(hop.body.clone())
                .send()
                .await
                .map_err(|e| {
                    if e.is_builder() {
                        Error::invalid_request(e)
                    } else {
                        Error::connect(e)
                    }
                })?;
            let status = response.status().as_u16();
            if redirects.follow(&mut hop, status, response.headers().get(LOCATION))? {
                continue;
            }
            let headers = response.headers().clone();
            let body = response
                .bytes_stream()
                .map_err(|e| Error::body(Box::new(e) as Box<dyn std::error::Error + Send + Sync>))
                .boxed();
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::redirect::tests::{
        connector_follows_a_redirect, serve, REDIRECT_THEN_STREAM,
    };
    use std::format;
    use std::string::ToString;

    #[tokio::test]
    async fn the_connector_follows_a_redirect_and_streams_the_body_from_a_local_server() {
        let (url, server) = serve(REDIRECT_THEN_STREAM).await;
        let connector = ReqwestConnector::new(&format!("{url}/first")).unwrap();
        connector_follows_a_redirect(server, connector).await;
    }

    #[test]
    fn the_connector_shows_its_url_and_takes_only_http_and_https() {
        let connector = ReqwestConnector::new("https://a.test/events").unwrap();
        let debug = format!("{connector:?}");
        assert!(debug.starts_with("ReqwestConnector {"), "{debug}");
        assert!(
            debug.contains("a.test") && debug.contains("/events"),
            "{debug}"
        );
        let error = ReqwestConnector::new("ftp://a.test/").unwrap_err();
        assert_eq!(error.kind(), crate::client::ErrorKind::InvalidRequest);
        assert!(error.report().to_string().contains("ftp"));
    }
}
