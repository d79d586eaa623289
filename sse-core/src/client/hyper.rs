//! A [`Connector`] over hyper 1.x and hyper-util (feature `hyper`): rustls
//! with the webpki roots and ring, no OpenSSL, HTTP/1.1.

use std::boxed::Box;
use std::format;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http::header::LOCATION;
use http::Uri;
use http_body_util::{BodyDataStream, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use url::Url;

use super::redirect::{parse_url, Redirects};
use super::{Connector, Error, Request, Response};

/// Opens each attempt's request to one URL with hyper.
///
/// Redirects (301, 302, 303, 307, 308) are followed as [`Connector`] says:
/// up to 10; `Authorization` and `Cookie` are sent to the first origin only;
/// 303, and 301 or 302 after a POST, become a GET without a body, as
/// browsers do; 307 and 308 re-send the method and body; a URL seen before
/// is a loop, a fatal error. Nothing asks for or decodes compression.
#[derive(Clone)]
pub struct HyperConnector {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: Url,
}

impl std::fmt::Debug for HyperConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperConnector")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl HyperConnector {
    /// A connector for `url`, with a hyper client of its own.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidRequest`](super::ErrorKind::InvalidRequest) for a
    /// URL that does not parse, or whose scheme is not `http` or `https`.
    pub fn new(url: &str) -> Result<Self, Error> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(Error::invalid_request)?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HyperConnector {
            client: Client::builder(TokioExecutor::new()).build(https),
            url: parse_url(url)?,
        })
    }
}

impl Connector for HyperConnector {
    type Body = BoxStream<'static, Result<Bytes, Error>>;

    async fn connect(&self, request: &Request) -> Result<Response<Self::Body>, Error> {
        let (mut redirects, mut hop) = Redirects::start(&self.url, request);
        loop {
            let uri: Uri = hop
                .url
                .as_str()
                .parse()
                .map_err(|e| Error::invalid_request(format!("invalid URL {}: {e}", hop.url)))?;
            let mut outgoing = http::Request::builder()
                .method(hop.method.clone())
                .uri(uri)
                .body(Full::new(hop.body.clone()))
                .map_err(Error::invalid_request)?;
            *outgoing.headers_mut() = hop.headers.clone();
            let response = self
                .client
                .request(outgoing)
                .await
                .map_err(Error::connect)?;
            let status = response.status().as_u16();
            if redirects.follow(&mut hop, status, response.headers().get(LOCATION))? {
                continue;
            }
            let (parts, incoming) = response.into_parts();
            let body = BodyDataStream::new(incoming)
                .map_err(|e| Error::body(Box::new(e) as Box<dyn std::error::Error + Send + Sync>))
                .boxed();
            return Ok(Response {
                status,
                headers: parts.headers,
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
    use std::string::ToString;

    #[tokio::test]
    async fn the_connector_follows_a_redirect_and_streams_the_body_from_a_local_server() {
        let (url, server) = serve(REDIRECT_THEN_STREAM).await;
        let connector = HyperConnector::new(&format!("{url}/first")).unwrap();
        connector_follows_a_redirect(server, connector).await;
    }

    #[test]
    fn the_connector_shows_its_url_and_takes_only_http_and_https() {
        let connector = HyperConnector::new("https://a.test/events").unwrap();
        let debug = format!("{connector:?}");
        assert!(debug.starts_with("HyperConnector {"), "{debug}");
        assert!(debug.contains("https://a.test/events"), "{debug}");
        let error = HyperConnector::new("ftp://a.test/").unwrap_err();
        assert_eq!(error.kind(), crate::client::ErrorKind::InvalidRequest);
        assert!(error.report().to_string().contains("ftp"));
    }
}
