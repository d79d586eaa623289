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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::client::ErrorKind;
    use std::string::{String, ToString};

    fn request(method: Method, body: &'static str) -> Request {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        headers.insert(COOKIE, HeaderValue::from_static("session=1"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("last-event-id", HeaderValue::from_static("7"));
        Request {
            method,
            headers,
            body: Bytes::from_static(body.as_bytes()),
            attempt: 1,
        }
    }

    fn start(url: &str, method: Method) -> (Redirects, Hop) {
        let url = parse_url(url).unwrap();
        Redirects::start(&url, &request(method, "{}"))
    }

    fn location(to: &'static str) -> HeaderValue {
        HeaderValue::from_static(to)
    }

    #[test]
    fn the_first_hop_is_the_request_as_given() {
        let (_, hop) = start("http://a.test/events", Method::POST);
        assert_eq!(hop.url.as_str(), "http://a.test/events");
        assert_eq!(hop.method, Method::POST);
        assert_eq!(hop.body, "{}");
        assert_eq!(hop.headers, request(Method::POST, "{}").headers);
    }

    #[test]
    fn only_301_302_303_307_and_308_are_followed() {
        for status in [200, 204, 300, 304, 305, 306, 400, 503] {
            let (mut redirects, mut hop) = start("http://a.test/", Method::GET);
            let to = location("/b");
            assert!(!redirects.follow(&mut hop, status, Some(&to)).unwrap());
            assert_eq!(hop.url.as_str(), "http://a.test/", "{status}");
        }
        for status in [301, 302, 303, 307, 308] {
            let (mut redirects, mut hop) = start("http://a.test/", Method::GET);
            let to = location("/b");
            assert!(redirects.follow(&mut hop, status, Some(&to)).unwrap());
            assert_eq!(hop.url.as_str(), "http://a.test/b", "{status}");
        }
    }

    #[test]
    fn ten_redirects_are_followed_and_the_eleventh_is_a_fatal_error() {
        let (mut redirects, mut hop) = start("http://a.test/0", Method::GET);
        for n in 1..=MAX_REDIRECTS {
            let to = HeaderValue::from_str(&format!("/{n}")).unwrap();
            assert!(redirects.follow(&mut hop, 302, Some(&to)).unwrap(), "{n}");
        }
        assert_eq!(hop.url.as_str(), "http://a.test/10");
        let to = location("/11");
        let error = redirects.follow(&mut hop, 302, Some(&to)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Redirect);
        assert!(error.is_fatal());
        assert_eq!(
            error.report().to_string(),
            "too many redirects: more than 10 redirects from http://a.test/0"
        );
    }

    #[test]
    fn a_missing_unparsable_or_non_http_location_is_a_fatal_error() {
        let bad = [
            None,
            Some(HeaderValue::from_bytes(b"/caf\xe9").unwrap()),
            Some(location("http://[::1")),
            Some(location("ftp://a.test/file")),
            Some(location("file:///etc/passwd")),
        ];
        for to in bad {
            let (mut redirects, mut hop) = start("http://a.test/", Method::GET);
            let error = redirects.follow(&mut hop, 307, to.as_ref()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Redirect, "{to:?}");
        }
        // An https location is fine.
        let (mut redirects, mut hop) = start("http://a.test/", Method::GET);
        let to = location("https://a.test/");
        assert!(redirects.follow(&mut hop, 307, Some(&to)).unwrap());
    }

    #[test]
    fn a_redirect_back_to_a_url_seen_is_a_loop() {
        let (mut redirects, mut hop) = start("http://a.test/a", Method::GET);
        let to_b = location("/b");
        assert!(redirects.follow(&mut hop, 302, Some(&to_b)).unwrap());
        let to_a = location("/a");
        let error = redirects.follow(&mut hop, 302, Some(&to_a)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Redirect);
        assert!(error.report().to_string().contains("loop"));
    }

    /// The method and body after a redirect of `status` from a `method`
    /// request, and whether the body's headers were kept.
    fn after(status: u16, method: Method) -> (Method, Bytes, bool) {
        let (mut redirects, mut hop) = start("http://a.test/", method);
        let to = location("/next");
        assert!(redirects.follow(&mut hop, status, Some(&to)).unwrap());
        let typed = hop.headers.contains_key(CONTENT_TYPE);
        (hop.method, hop.body, typed)
    }

    #[test]
    fn a_303_and_a_301_or_302_after_a_post_become_a_get_without_a_body() {
        let get = (Method::GET, Bytes::new(), false);
        assert_eq!(after(303, Method::POST), get);
        assert_eq!(after(303, Method::PUT), get);
        assert_eq!(after(301, Method::POST), get);
        assert_eq!(after(302, Method::POST), get);
        // A 303 after a HEAD stays a HEAD.
        let body = Bytes::from_static(b"{}");
        assert_eq!(after(303, Method::HEAD), (Method::HEAD, body.clone(), true));
        // A 301 or 302 keeps any other method, and 307 and 308 keep all.
        assert_eq!(after(301, Method::PUT), (Method::PUT, body.clone(), true));
        assert_eq!(after(302, Method::PUT), (Method::PUT, body.clone(), true));
        assert_eq!(after(307, Method::POST), (Method::POST, body.clone(), true));
        assert_eq!(after(308, Method::POST), (Method::POST, body.clone(), true));
        assert_eq!(after(308, Method::PUT), (Method::PUT, body, true));
    }

    /// Whether credentials survive a redirect from `from` to `to`.
    fn keeps_credentials(from: &str, to: &'static str) -> bool {
        let (mut redirects, mut hop) = start(from, Method::GET);
        assert!(redirects
            .follow(&mut hop, 307, Some(&location(to)))
            .unwrap());
        let auth = hop.headers.contains_key(AUTHORIZATION);
        assert_eq!(auth, hop.headers.contains_key(COOKIE));
        // Other headers always go on.
        assert_eq!(hop.headers["last-event-id"], "7");
        auth
    }

    #[test]
    fn credentials_go_only_to_the_same_scheme_host_and_port() {
        assert!(keeps_credentials("http://a.test/x", "/y"));
        assert!(keeps_credentials("http://a.test/x", "http://a.test:80/y"));
        assert!(keeps_credentials(
            "https://a.test/x",
            "https://a.test:443/y"
        ));
        assert!(!keeps_credentials("http://a.test/x", "https://a.test/y"));
        assert!(!keeps_credentials("http://a.test/x", "http://b.test/y"));
        assert!(!keeps_credentials(
            "http://a.test/x",
            "http://a.test:8080/y"
        ));
        assert!(!keeps_credentials(
            "https://a.test/x",
            "http://a.test:443/y"
        ));
    }

    #[test]
    fn credentials_dropped_for_another_origin_stay_dropped_back_on_the_first() {
        let (mut redirects, mut hop) = start("http://a.test/", Method::GET);
        let away = location("http://b.test/");
        assert!(redirects.follow(&mut hop, 302, Some(&away)).unwrap());
        let back = location("http://a.test/again");
        assert!(redirects.follow(&mut hop, 302, Some(&back)).unwrap());
        assert_eq!(hop.url.as_str(), "http://a.test/again");
        assert!(!hop.headers.contains_key(AUTHORIZATION));
        assert!(!hop.headers.contains_key(COOKIE));
    }

    #[test]
    fn parse_url_takes_http_and_https_only() {
        assert_eq!(
            parse_url("https://a.test:8443/e?x=1").unwrap().as_str(),
            "https://a.test:8443/e?x=1"
        );
        assert_eq!(
            parse_url("http://a.test").unwrap().as_str(),
            "http://a.test/"
        );
        for bad in ["a.test/events", "ftp://a.test/", "ws://a.test/", ""] {
            let error = parse_url(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{bad}");
            assert!(error.is_fatal());
        }
    }

    /// A server on 127.0.0.1 that answers the n-th request with
    /// `replies[n]` (a whole response, sent before closing the connection)
    /// and returns the request heads it read. Its URL is the first value.
    pub(crate) async fn serve(
        replies: &'static [&'static str],
    ) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut heads = Vec::new();
            for reply in replies {
                let (mut socket, _) = listener.accept().await.unwrap();
                // The head, then as much body as it announces.
                let mut read = Vec::new();
                let mut buf = [0; 1024];
                let mut whole = None;
                while whole.is_none_or(|len| read.len() < len) {
                    let n = socket.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the connection ended within the request");
                    read.extend_from_slice(&buf[..n]);
                    if whole.is_none() {
                        whole = head_and_body_len(&read);
                    }
                }
                read.truncate(read.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
                heads.push(String::from_utf8(read).unwrap());
                socket.write_all(reply.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
            heads
        });
        (url, server)
    }

    /// The length of a request's head and body, once its head is whole.
    fn head_and_body_len(read: &[u8]) -> Option<usize> {
        let end = read.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
        let body = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |n| n.trim().parse().unwrap());
        Some(end + body)
    }

    /// The replies of [`serve`] for [`connector_follows_a_redirect`].
    pub(crate) const REDIRECT_THEN_STREAM: &[&str] = &[
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: /next\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: x\n\n",
    ];

    /// Checks a connector against [`serve`] with [`REDIRECT_THEN_STREAM`]:
    /// it follows the redirect with the method, body and headers, and hands
    /// over the final response's status, headers and body.
    pub(crate) async fn connector_follows_a_redirect<C: crate::client::Connector>(
        server: tokio::task::JoinHandle<Vec<String>>,
        connector: C,
    ) {
        use futures_util::StreamExt;
        let mut request = request(Method::POST, "{}");
        request.headers.remove(COOKIE);
        let limit = std::time::Duration::from_secs(20);
        let bounded = |f| tokio::time::timeout(limit, f);
        let mut response = bounded(connector.connect(&request)).await.unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.headers["content-type"], "text/event-stream");
        let mut body = Vec::new();
        while let Some(chunk) = tokio::time::timeout(limit, response.body.next())
            .await
            .unwrap()
        {
            body.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(body, b"data: x\n\n");
        let heads = tokio::time::timeout(limit, server).await.unwrap().unwrap();
        assert!(
            heads[0].starts_with("POST /first HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
        assert!(
            heads[1].starts_with("POST /next HTTP/1.1\r\n"),
            "{}",
            heads[1]
        );
        for head in &heads {
            let head = head.to_ascii_lowercase();
            assert!(head.contains("\r\nlast-event-id: 7\r\n"), "{head}");
            assert!(head.contains("\r\nauthorization: bearer t\r\n"), "{head}");
            assert!(head.contains("\r\ncontent-length: 2\r\n"), "{head}");
        }
    }
}
