//! A connection wrapper that gives up on a peer that does not send its
//! request head in time.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A connection whose reads fail with [`io::ErrorKind::TimedOut`] when the
/// first request head (everything up to its blank line, `\r\n\r\n`) has not
/// come `timeout` after the wrapper was made: a client that opens a
/// connection and sends nothing, or a head a byte at a time, is closed
/// instead of being held. After the first head, reads pass through
/// untouched, so a long SSE response is never cut by it.
///
/// For servers that cannot set a head timeout themselves (`axum::serve`);
/// with hyper, `header_read_timeout` does the same for every request.
///
/// ```
/// use std::time::Duration;
/// use sse_proto::server::HeadTimeout;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // A client that sends half a head, then nothing.
/// let (server_end, mut client) = tokio::io::duplex(1024);
/// let mut conn = HeadTimeout::new(server_end, Duration::from_millis(50));
/// client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
/// let mut buf = [0; 64];
/// assert_eq!(conn.read(&mut buf).await.unwrap(), 16);
/// let err = conn.read(&mut buf).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// # });
/// ```
#[derive(Debug)]
pub struct HeadTimeout<T> {
    inner: T,
    /// Running until the first head has come.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How much of `\r\n\r\n` the bytes read so far end with.
    matched: usize,
}

impl<T> HeadTimeout<T> {
    /// Wraps `inner`; the first request head must come within `timeout`.
    pub fn new(inner: T, timeout: Duration) -> Self {
        let deadline = crate::time::instant_after(Instant::now(), timeout);
        HeadTimeout {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep_until(deadline))),
            matched: 0,
        }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped connection, unwrapped.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// How much of `\r\n\r\n` `bytes`, read after `matched` bytes of it, end
/// with; 4 once it is whole.
fn head_end(mut matched: usize, bytes: &[u8]) -> usize {
    const END: &[u8] = b"\r\n\r\n";
    for &b in bytes {
        matched = if b == END[matched] {
            matched + 1
        } else if b == b'\r' {
            1
        } else {
            0
        };
        if matched == END.len() {
            return matched;
        }
    }
    matched
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some(deadline) = &mut this.deadline else {
            return res;
        };
        match res {
            Poll::Ready(Ok(())) => {
                this.matched = head_end(this.matched, &buf.filled()[before..]);
                if this.matched == 4 {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request head within the head timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// With feature `axum`: a listener for `axum::serve` whose connections are
/// wrapped in a [`HeadTimeout`] and a [`super::WriteTimeout`], the two
/// defences `axum::serve` lacks against clients that send nothing or stop
/// reading. (It already keeps accepting after an accept error.)
///
/// ```no_run
/// # #[cfg(feature = "axum")] mod example {
/// use sse_proto::server::TimeoutListener;
///
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(TimeoutListener::new(listener), app).await
/// # }
/// # }
/// ```
#[cfg(feature = "axum")]
#[derive(Debug)]
pub struct TimeoutListener<L> {
    inner: L,
    head: Duration,
    write: Duration,
}

#[cfg(feature = "axum")]
impl<L> TimeoutListener<L> {
    /// Wraps `inner`: 10 s for the first request head, 30 s for a write
    /// that waits.
    pub fn new(inner: L) -> Self {
        TimeoutListener {
            inner,
            head: Duration::from_secs(10),
            write: Duration::from_secs(30),
        }
    }

    /// The time a connection has to send its first request head.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head = timeout;
        self
    }

    /// The time a write may wait on a client that does not read.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write = timeout;
        self
    }
}

#[cfg(feature = "axum")]
impl<L> axum::serve::Listener for TimeoutListener<L>
where
    L: axum::serve::Listener,
{
    type Io = HeadTimeout<super::WriteTimeout<L::Io>>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        let io = HeadTimeout::new(super::WriteTimeout::new(io, self.write), self.head);
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_the_first_blank_line_in_any_split() {
        let head = b"GET / HTTP/1.1\r\nhost: x\r\n\r\nbody";
        for split in 0..head.len() {
            let (a, b) = head.split_at(split);
            let m = head_end(0, a);
            let whole = m == 4 || head_end(m, b) == 4;
            assert!(whole, "split at {split}");
        }
        assert_eq!(head_end(0, b"GET / HTTP/1.1\r\nhost: x\r\n"), 2);
        assert_eq!(head_end(0, b"\r\r\n\r\n"), 4);
        assert_eq!(head_end(0, b"\r\n\n\r\n"), 2);
        assert_eq!(head_end(0, b"a\r\nb\r\n"), 2);
    }

    #[tokio::test]
    async fn writes_flushes_and_shutdowns_pass_through_untouched() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server_end, mut client) = tokio::io::duplex(1024);
        let mut conn = HeadTimeout::new(server_end, Duration::from_secs(10));
        assert_eq!(conn.is_write_vectored(), conn.get_ref().is_write_vectored());
        assert_eq!(conn.write(b"abc").await.unwrap(), 3);
        let bufs = [io::IoSlice::new(b"de"), io::IoSlice::new(b"f")];
        let n = conn.write_vectored(&bufs).await.unwrap();
        assert!(n >= 2, "{n}");
        conn.flush().await.unwrap();
        conn.shutdown().await.unwrap();
        let mut got = std::vec::Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(&got[..3 + n], &b"abcdef"[..3 + n]);
        // A flush reaches a buffering connection underneath.
        let (server_end, mut client) = tokio::io::duplex(1024);
        let mut conn = HeadTimeout::new(
            tokio::io::BufWriter::new(server_end),
            Duration::from_secs(10),
        );
        conn.write_all(b"held").await.unwrap();
        conn.flush().await.unwrap();
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut buf))
            .await
            .expect("the flush sent the buffered bytes")
            .unwrap();
        assert_eq!(&buf, b"held");
        // The connection comes back out as it went in.
        let (a, _b) = tokio::io::duplex(8);
        let mut inner = HeadTimeout::new(a, Duration::from_secs(1)).into_inner();
        assert!(inner.write(b"x").await.is_ok());
    }

    #[cfg(feature = "axum")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listener_wraps_each_connection_with_its_timeouts() {
        use axum::serve::Listener;
        use tokio::io::AsyncReadExt;
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = TimeoutListener::new(tcp)
            .head_timeout(Duration::from_millis(200))
            .write_timeout(Duration::from_secs(7));
        assert_eq!(listener.local_addr().unwrap(), addr);
        assert_eq!(
            (listener.head, listener.write),
            (Duration::from_millis(200), Duration::from_secs(7))
        );
        let defaults = TimeoutListener::new(());
        assert_eq!(
            (defaults.head, defaults.write),
            (Duration::from_secs(10), Duration::from_secs(30))
        );
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut conn, _) = listener.accept().await;
        let start = std::time::Instant::now();
        let mut buf = [0u8; 8];
        let err = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("bounded")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_in_time_stops_the_clock_and_a_silent_client_times_out() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server_end, mut client) = tokio::io::duplex(1024);
        let mut conn = HeadTimeout::new(server_end, Duration::from_secs(10));
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0; 64];
        assert_eq!(conn.read(&mut buf).await.unwrap(), 18);
        // Long after the timeout, an idle read just waits.
        let idle = tokio::time::timeout(Duration::from_secs(3600), conn.read(&mut buf)).await;
        assert!(
            idle.is_err(),
            "the read waited for data, not for the head timeout"
        );

        let (server_end, _client) = tokio::io::duplex(1024);
        let mut conn = HeadTimeout::new(server_end, Duration::from_secs(10));
        let start = Instant::now();
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }
}
