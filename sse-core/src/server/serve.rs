//! A lean HTTP/1.1 server for SSE fan-out alone: what a [`Hub`] needs to
//! hold many idle subscribers cheaply.

use std::boxed::Box;
use std::io;
use std::string::String;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{last_event_id, Hub, WriteTimeout};
use crate::adapter::body::{SseBody, DEFAULT_KEEP_ALIVE};

/// Which stream of the hub a request asks for; `None` answers 404.
pub type Route = Arc<dyn Fn(&http::Request<()>) -> Option<String> + Send + Sync>;

/// How [`serve`] serves.
#[derive(Clone)]
pub struct ServeConfig {
    route: Route,
    backlog: bool,
    keep_alive: Option<Duration>,
    head_timeout: Duration,
    write_timeout: Duration,
    max_head: usize,
}

impl core::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("backlog", &self.backlog)
            .field("keep_alive", &self.keep_alive)
            .field("head_timeout", &self.head_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_head", &self.max_head)
            .finish_non_exhaustive()
    }
}

impl ServeConfig {
    /// `route` names the hub's stream for a `GET` request (it sees the
    /// path, query and headers, to check a token, say), or refuses it with
    /// `None` (404). Defaults: no backlog for new clients
    /// ([`Hub::subscribe`]), keep-alives every 15 s, 10 s for the request
    /// head, 30 s for a write that waits, 16 KiB of request head.
    pub fn new(
        route: impl Fn(&http::Request<()>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        ServeConfig {
            route: Arc::new(route),
            backlog: false,
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
            head_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_head: 16 * 1024,
        }
    }

    /// New clients get the stream's log first ([`Hub::subscribe_with_backlog`]).
    pub fn backlog(mut self, on: bool) -> Self {
        self.backlog = on;
        self
    }

    /// The keep-alive interval, or none.
    pub fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = interval;
        self
    }

    /// The time a connection has to send its request head.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// The time a write may wait on a client that does not read.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The largest request head read (at least 1 KiB); a longer one gets
    /// 431.
    pub fn max_head(mut self, bytes: usize) -> Self {
        self.max_head = bytes.max(1024);
        self
    }
}

/// Serves `hub` on `listener` until the task is dropped: an HTTP/1.1
/// server for SSE alone, for a process (or a port) that does nothing but
/// fan events out, where each idle subscriber should cost little.
///
/// A `GET` request that `config`'s route accepts gets `200` with the SSE
/// headers and `connection: close`, and then its subscription, resumed from
/// its `Last-Event-ID` ([`Hub::subscribe`]), until the client goes, the
/// stream is [closed](Hub::close), or a write waits longer than the write
/// timeout. Other requests get 404 (refused by the route), 405 (not
/// `GET`), 400 (malformed) or 431 (a head over the limit), and are closed.
///
/// Unlike a general server it keeps nothing per connection while it waits
/// but the subscription and the socket: the request head's buffer is gone
/// once the head is read, and an idle [`SseBody`] holds no buffer. It keeps
/// accepting after an accept error (out of file descriptors, say), waiting
/// 10 ms, doubling up to 1 s while they go on. It does not speak TLS or
/// HTTP/2: put it behind a proxy for those.
///
/// ```no_run
/// use sse_proto::server::{serve, Hub, ServeConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::new();
/// let config = ServeConfig::new(|req| (req.uri().path() == "/events").then(|| "news".into()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// tokio::spawn(serve(listener, hub.clone(), config));
/// hub.publish("news", sse_proto::ServerEvent::new().data("hello"))?;
/// # Ok(())
/// # }
/// ```
pub async fn serve(listener: TcpListener, hub: Hub, config: ServeConfig) {
    let config = Arc::new(config);
    let mut backoff = Duration::from_millis(10);
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                backoff = Duration::from_millis(10);
                let _ = tcp.set_nodelay(true);
                tokio::spawn(connection(tcp, hub.clone(), config.clone()));
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        }
    }
}

/// The wait after another accept error in a row: twice the last, up to 1 s.
fn next_backoff(last: Duration) -> Duration {
    (last * 2).min(Duration::from_secs(1))
}

/// What a request head came to.
enum Head {
    /// A request the route accepted: the stream and the `Last-Event-ID`.
    Stream(String, Option<String>),
    /// An answer, then the end.
    Refuse(&'static str),
}

async fn connection(mut tcp: TcpStream, hub: Hub, config: Arc<ServeConfig>) {
    let head = tokio::time::timeout(config.head_timeout, read_head(&mut tcp, &config)).await;
    let (stream, last) = match head {
        Ok(Ok(Head::Stream(stream, last))) => (stream, last),
        Ok(Ok(Head::Refuse(status))) => {
            let reply =
                std::format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let write = tcp.write_all(reply.as_bytes());
            let _ = tokio::time::timeout(config.write_timeout, write).await;
            return;
        }
        // The client went, or sent no head in time.
        Ok(Err(_)) | Err(_) => return,
    };
    let events = if config.backlog {
        hub.subscribe_with_backlog(&stream, last.as_deref())
    } else {
        hub.subscribe(&stream, last.as_deref())
    };
    drop((stream, last));
    let (mut read, write) = tcp.into_split();
    let mut write = WriteTimeout::new(write, config.write_timeout);
    if write.write_all(RESPONSE_HEAD).await.is_err() {
        return;
    }
    let mut body = Box::pin(SseBody::with_keep_alive(events, config.keep_alive));
    let mut scratch = [0u8; 64];
    loop {
        tokio::select! {
            frame = body.frame() => {
                let Some(Ok(frame)) = frame else { return };
                if let Ok(data) = frame.into_data() {
                    if write.write_all(&data).await.is_err() {
                        return;
                    }
                }
            }
            // A client sends nothing more; its end (or anything else) is
            // read here, so a client that goes is dropped at once.
            read = read.read(&mut scratch) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
            }
        }
    }
}

/// The response head: no length and `connection: close`, so the body runs
/// until the connection ends, with no chunk framing.
const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nx-accel-buffering: no\r\nconnection: close\r\n\r\n";

/// The most headers a request may have.
const MAX_HEADERS: usize = 64;

/// Reads and routes the request head; the buffer is dropped on return.
async fn read_head<R>(tcp: &mut R, config: &ServeConfig) -> io::Result<Head>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        if let Some(head) = parse(&buf, config) {
            return Ok(head);
        }
        let room = (config.max_head - buf.len()).min(4096);
        let start = buf.len();
        buf.resize(start + room, 0);
        let n = tcp.read(&mut buf[start..]).await?;
        buf.truncate(start + n);
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// The head in `buf`, routed, once it is whole or wrong; `None` while more
/// may come. Not async: the parser's header array (2 KiB) stays on the
/// stack instead of in every connection's task.
fn parse(buf: &[u8], config: &ServeConfig) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => Some(route(&req, config)),
        Ok(httparse::Status::Partial) if buf.len() >= config.max_head => {
            Some(Head::Refuse(TOO_LARGE))
        }
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Head::Refuse(TOO_LARGE)),
        Err(_) => Some(Head::Refuse("400 Bad Request")),
    }
}

const TOO_LARGE: &str = "431 Request Header Fields Too Large";

fn route(req: &httparse::Request<'_, '_>, config: &ServeConfig) -> Head {
    if req.method != Some("GET") {
        return Head::Refuse("405 Method Not Allowed");
    }
    let mut request = http::Request::builder().uri(req.path.unwrap_or("/"));
    for h in req.headers.iter() {
        request = request.header(h.name, h.value);
    }
    let Ok(request) = request.body(()) else {
        return Head::Refuse("400 Bad Request");
    };
    match (config.route)(&request) {
        Some(stream) => Head::Stream(stream, last_event_id(request.headers()).map(String::from)),
        None => Head::Refuse("404 Not Found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerEvent;
    use std::format;
    use std::string::ToString;

    fn config() -> ServeConfig {
        ServeConfig::new(|req| {
            (req.uri().path() == "/events").then(|| req.uri().query().unwrap_or("news").to_string())
        })
    }

    fn parsed(head: &str) -> Option<Result<(String, Option<String>), &'static str>> {
        parse(head.as_bytes(), &config().max_head(1024)).map(|h| match h {
            Head::Stream(stream, last) => Ok((stream, last)),
            Head::Refuse(status) => Err(status),
        })
    }

    #[test]
    fn a_head_is_routed_once_whole_and_refused_with_the_right_status() {
        assert_eq!(
            parsed("GET /events HTTP/1.1\r\nhost: x\r\n"),
            None,
            "not whole yet"
        );
        assert_eq!(
            parsed("GET /events?s2 HTTP/1.1\r\nlast-event-id:  7 \r\n\r\n"),
            Some(Ok(("s2".into(), Some("7".into()))))
        );
        assert_eq!(
            parsed("GET /events HTTP/1.1\r\n\r\n"),
            Some(Ok(("news".into(), None)))
        );
        assert_eq!(
            parsed("GET /other HTTP/1.1\r\n\r\n"),
            Some(Err("404 Not Found"))
        );
        assert_eq!(
            parsed("POST /events HTTP/1.1\r\n\r\n"),
            Some(Err("405 Method Not Allowed"))
        );
        assert_eq!(parsed("\u{1}\u{2} x\r\n\r\n"), Some(Err("400 Bad Request")));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("h{i}: v\r\n")).collect();
        assert_eq!(
            parsed(&format!("GET /events HTTP/1.1\r\n{many}\r\n")),
            Some(Err(TOO_LARGE))
        );
        // A partial head at the limit is refused; below it, more may come.
        let partial = format!("GET /events HTTP/1.1\r\nx: {}", "y".repeat(1010));
        assert_eq!(partial.len(), 1035);
        assert_eq!(parsed(&partial), Some(Err(TOO_LARGE)));
        assert_eq!(parsed(&partial[..1023]), None);
    }

    /// A connection that gives at most `.1` bytes a read, as a slow
    /// client's head arrives.
    struct Trickle<R>(R, usize);

    impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Trickle<R> {
        fn poll_read(
            mut self: core::pin::Pin<&mut Self>,
            cx: &mut core::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> core::task::Poll<io::Result<()>> {
            let n = self.1.min(buf.remaining());
            let mut part = tokio::io::ReadBuf::new(buf.initialize_unfilled_to(n));
            let res = core::pin::Pin::new(&mut self.0).poll_read(cx, &mut part);
            let got = part.filled().len();
            buf.advance(got);
            res
        }
    }

    #[tokio::test]
    async fn reading_a_head_never_takes_more_than_the_limit() {
        for piece in [300, 5000] {
            let (server_end, mut client) = tokio::io::duplex(64 * 1024);
            let mut server_end = Trickle(server_end, piece);
            let junk = format!("GET /events HTTP/1.1\r\nx: {}\r\n\r\n", "y".repeat(8000));
            client.write_all(junk.as_bytes()).await.unwrap();
            let head = read_head(&mut server_end, &config().max_head(1024))
                .await
                .unwrap();
            assert!(matches!(head, Head::Refuse(TOO_LARGE)));
            // What the server did not read is still there.
            drop(client);
            let mut rest = std::vec::Vec::new();
            server_end.0.read_to_end(&mut rest).await.unwrap();
            assert_eq!(
                junk.len() - rest.len(),
                1024,
                "bytes read of the head, {piece} a read"
            );
        }
    }

    #[test]
    fn accept_errors_back_off_doubling_up_to_a_second() {
        let mut wait = Duration::from_millis(10);
        let mut waits = std::vec::Vec::new();
        for _ in 0..9 {
            waits.push(wait.as_millis());
            wait = next_backoff(wait);
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }

    #[test]
    fn the_config_says_what_it_holds_and_the_head_limit_has_a_floor() {
        let c = config()
            .backlog(true)
            .keep_alive(None)
            .head_timeout(Duration::from_secs(3))
            .write_timeout(Duration::from_secs(4))
            .max_head(10);
        assert_eq!(
            format!("{c:?}"),
            "ServeConfig { backlog: true, keep_alive: None, head_timeout: 3s, \
             write_timeout: 4s, max_head: 1024, .. }"
        );
        assert_eq!(config().max_head(5000).max_head, 5000);
        assert!(!config().backlog);
        assert_eq!(config().keep_alive, Some(DEFAULT_KEEP_ALIVE));
    }

    /// A server on loopback, and what it sends for `request` until it
    /// closes or 10 s pass.
    async fn exchange(addr: std::net::SocketAddr, request: &[u8], want: &str) -> String {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let _ = tcp.write_all(request).await;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while !String::from_utf8_lossy(&got).contains(want) {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_a_subscription_resumed_with_backlog_and_refuses_the_rest() {
        let hub = Hub::new();
        let first = hub.publish("news", ServerEvent::new().data("a")).unwrap();
        let second = hub.publish("news", ServerEvent::new().data("b")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            hub.clone(),
            config().backlog(true).keep_alive(None),
        ));

        let got = exchange(addr, b"GET /events HTTP/1.1\r\n\r\n", "data: b\n\n").await;
        let primed = format!("{}-0", first.rsplit_once('-').unwrap().0);
        assert_eq!(
            got,
            format!(
                "{}id: {primed}\n\nid: {first}\ndata: a\n\nid: {second}\ndata: b\n\n",
                core::str::from_utf8(RESPONSE_HEAD).unwrap()
            )
        );
        let resume = format!("GET /events HTTP/1.1\r\nlast-event-id: {first}\r\n\r\n");
        let got = exchange(addr, resume.as_bytes(), "data: b\n\n").await;
        assert!(
            got.ends_with(&format!("\r\n\r\nid: {second}\ndata: b\n\n")),
            "{got}"
        );
        let got = exchange(addr, b"GET /x HTTP/1.1\r\n\r\n", "\r\n\r\n").await;
        assert_eq!(
            got,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_goes_or_sends_no_head_is_let_go() {
        let hub = Hub::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = config().head_timeout(Duration::from_millis(300));
        tokio::spawn(serve(listener, hub.clone(), config));
        // No head: closed after the head timeout, not before.
        let start = std::time::Instant::now();
        let got = exchange(addr, b"GET /ev", "never").await;
        assert_eq!(got, "");
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(10));
        // A subscriber that goes is dropped at once.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /events HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let start = std::time::Instant::now();
        while hub.subscribers("news") != 1 {
            assert!(start.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(tcp);
        while hub.subscribers("news") != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the subscription stayed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
