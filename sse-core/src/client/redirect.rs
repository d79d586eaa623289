//! Redirects, followed the same way by both ready connectors.
//!
//! Up to [`MAX_REDIRECTS`] a request; `Authorization` and `Cookie` go to the
//! first origin only, and once dropped stay dropped; 303, and 301 or 302
//! after a POST, become a GET without a body, as browsers do; 307 and 308
//! re-send the method and body; a URL seen before is a loop. A loop, too
//! many hops, or a `Location` that is missing or not http(s) is a fatal
//! [`Error::redirect`].

use std::format;
use std::vec::Vec;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use http::{HeaderMap, HeaderValue, Method};
use url::Url;

use super::{Error, Request};

/// The most redirects the ready connectors follow for one attempt.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// One request of an attempt: the first, or one after a redirect.
#[derive(Debug)]
pub(crate) struct Hop {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The redirects of one attempt so far.
#[derive(Debug)]
pub(crate) struct Redirects {
    first: Url,
    seen: Vec<Url>,
}

impl Redirects {
    /// The first hop of an attempt to `url`.
    pub(crate) fn start(url: &Url, request: &Request) -> (Redirects, Hop) {
        let hop = Hop {
            method: request.method.clone(),
            url: url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let redirects = Redirects {
            first: url.clone(),
            seen: Vec::new(),
        };
        (redirects, hop)
    }

    /// Whether `status` is a redirect to follow; if so, `hop` becomes the
    /// next request.
    ///
    /// # Errors
    ///
    /// [`Error::redirect`] for a loop, too many hops, or a bad `Location`.
    pub(crate) fn follow(
        &mut self,
        hop: &mut Hop,
        status: u16,
        location: Option<&HeaderValue>,
    ) -> Result<bool, Error> {
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok(false);
        }
        self.seen.push(hop.url.clone());
        if self.seen.len() > MAX_REDIRECTS {
            return Err(Error::redirect(format!(
                "more than {MAX_REDIRECTS} redirects from {}",
                self.first
            )));
        }
        let location = location.and_then(|v| v.to_str().ok()).ok_or_else(|| {
            Error::redirect(format!("a {status} redirect without a usable Location"))
        })?;
        let next = hop
            .url
            .join(location)
            .map_err(|e| Error::redirect(format!("a {status} redirect to {location:?}: {e}")))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(Error::redirect(format!(
                "a {status} redirect to {next}, not http or https"
            )));
        }
        if self.seen.contains(&next) {
            return Err(Error::redirect(format!("redirect loop back to {next}")));
        }
        let to_get = (status == 303 && hop.method != Method::HEAD)
            || (matches!(status, 301 | 302) && hop.method == Method::POST);
        if to_get {
            hop.method = Method::GET;
            hop.body = Bytes::new();
            hop.headers.remove(CONTENT_TYPE);
            hop.headers.remove(CONTENT_LENGTH);
        }
        if !same_origin(&self.first, &next) {
            hop.headers.remove(AUTHORIZATION);
            hop.headers.remove(COOKIE);
        }
        hop.url = next;
        Ok(true)
    }
}

/// Scheme, host and port: what credentials are bound to.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// An `http` or `https` URL.
pub(crate) fn parse_url(url: &str) -> Result<Url, Error> {
    let parsed =
        Url::parse(url).map_err(|e| Error::invalid_request(format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(Error::invalid_request(format!(
            "unsupported scheme {other:?} in {url:?}: only http and https"
        ))),
    }
}
