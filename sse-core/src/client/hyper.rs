//! A [`Connector`] over hyper 1.x and hyper-util (feature `hyper`): rustls
//! with the webpki roots and ring, no OpenSSL, HTTP/1.1.

use std::boxed::Box;
use std::format;
use std::vec::Vec;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION};
use http::{HeaderMap, Method, Uri};
use http_body_util::{BodyDataStream, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use url::Url;

use super::{Connector, Error, Request, Response, MAX_REDIRECTS};

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

/// An `http` or `https` URL.
fn parse_url(url: &str) -> Result<Url, Error> {
    let parsed =
        Url::parse(url).map_err(|e| Error::invalid_request(format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(Error::invalid_request(format!(
            "unsupported scheme {other:?} in {url:?}: only http and https"
        ))),
    }
}

/// Scheme, host and port: what credentials are bound to.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The request after a redirect to `location` with `status`, or an error
/// for a bad `Location`.
fn redirect(
    status: u16,
    location: Option<&http::HeaderValue>,
    url: &Url,
    method: &mut Method,
    headers: &mut HeaderMap,
    body: &mut Bytes,
    first: &Url,
) -> Result<Url, Error> {
    let location = location
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::redirect(format!("a {status} redirect without a usable Location")))?;
    let next = url
        .join(location)
        .map_err(|e| Error::redirect(format!("a {status} redirect to {location:?}: {e}")))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(Error::redirect(format!(
            "a {status} redirect to {next}, not http or https"
        )));
    }
    if status == 303 && *method != Method::HEAD
        || matches!(status, 301 | 302) && *method == Method::POST
    {
        *method = Method::GET;
        *body = Bytes::new();
        headers.remove(CONTENT_TYPE);
        headers.remove(CONTENT_LENGTH);
    }
    if !same_origin(first, &next) {
        headers.remove(AUTHORIZATION);
        headers.remove(COOKIE);
    }
    Ok(next)
}

impl Connector for HyperConnector {
    type Body = BoxStream<'static, Result<Bytes, Error>>;

    async fn connect(&self, request: &Request) -> Result<Response<Self::Body>, Error> {
        let mut method = request.method.clone();
        let mut headers = request.headers.clone();
        let mut body = request.body.clone();
        let mut url = self.url.clone();
        let mut seen: Vec<Url> = Vec::new();
        loop {
            let uri: Uri = url
                .as_str()
                .parse()
                .map_err(|e| Error::invalid_request(format!("invalid URL {url}: {e}")))?;
            let mut outgoing = http::Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(Full::new(body.clone()))
                .map_err(Error::invalid_request)?;
            *outgoing.headers_mut() = headers.clone();
            let response = self
                .client
                .request(outgoing)
                .await
                .map_err(Error::connect)?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                seen.push(url.clone());
                if seen.len() > MAX_REDIRECTS {
                    return Err(Error::redirect(format!(
                        "more than {MAX_REDIRECTS} redirects from {}",
                        self.url
                    )));
                }
                let location = response.headers().get(LOCATION);
                url = redirect(
                    status,
                    location,
                    &url,
                    &mut method,
                    &mut headers,
                    &mut body,
                    &self.url,
                )?;
                if seen.contains(&url) {
                    return Err(Error::redirect(format!("redirect loop back to {url}")));
                }
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
