//! A connection wrapper that gives up on a peer that stops reading.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A connection (a `TcpStream`, say) whose writes fail with
/// [`io::ErrorKind::TimedOut`] once one has waited longer than `timeout`:
/// the peer has stopped reading, and its socket buffers are full. The
/// server then closes the connection, and what was queued for that client
/// is freed, instead of being held for as long as the client stays.
///
/// An SSE server needs this more than most: its responses never end, so a
/// client that stops reading holds its connection, its buffers and its
/// place in the server until the server drops it. Reads are passed through
/// untouched; an idle connection with nothing to write never times out.
///
/// ```
/// use std::time::Duration;
/// use sse_proto::server::WriteTimeout;
/// use tokio::io::AsyncWriteExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // A peer that never reads: 64 bytes of buffer, then every write waits.
/// let (ours, _theirs) = tokio::io::duplex(64);
/// let mut conn = WriteTimeout::new(ours, Duration::from_millis(50));
/// let err = conn.write_all(&[b'x'; 1024]).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// # });
/// ```
#[derive(Debug)]
pub struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    /// Running while a write or flush waits.
    stall: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteTimeout<T> {
    /// Wraps `inner`; a write that waits longer than `timeout` fails.
    pub fn new(inner: T, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stall: None,
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

    /// What a write returned: a wait starts (or goes on with) the timer,
    /// anything else stops it.
    fn watch<R>(&mut self, cx: &mut Context<'_>, res: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if res.is_ready() {
            self.stall = None;
            return res;
        }
        let timeout = self.timeout;
        let stall = self.stall.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep_until(crate::time::instant_after(
                Instant::now(),
                timeout,
            )))
        });
        if stall.as_mut().poll(cx).is_ready() {
            self.stall = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer has not read for longer than the write timeout",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, res)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, res)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, res)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connection whose peer never reads: every write, flush and
    /// shutdown waits for ever.
    struct Stuck;

    impl AsyncWrite for Stuck {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    /// The error of `op`, which must fail within a minute.
    async fn fails<R: core::fmt::Debug>(op: impl Future<Output = io::Result<R>>) -> io::Error {
        tokio::time::timeout(Duration::from_secs(60), op)
            .await
            .expect("bounded")
            .expect_err("timed out")
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_flush_or_shutdown_that_waits_longer_than_the_timeout_fails() {
        let mut conn = WriteTimeout::new(Stuck, Duration::from_secs(10));
        let start = Instant::now();
        let err = fails(conn.write(b"x")).await;
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        let err = fails(conn.write_vectored(&[io::IoSlice::new(b"x")])).await;
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        let err = fails(conn.flush()).await;
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        let err = fails(conn.shutdown()).await;
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn reads_writes_flushes_and_shutdown_reach_the_connection() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut conn = WriteTimeout::new(ours, Duration::from_secs(10));
        assert!(conn.is_write_vectored(), "as the connection is");
        assert!(!WriteTimeout::new(Stuck, Duration::from_secs(1)).is_write_vectored());
        let bounded = Duration::from_secs(60);
        tokio::time::timeout(bounded, async {
            conn.write_all(b"hello").await.expect("written");
            let n = conn
                .write_vectored(&[io::IoSlice::new(b", "), io::IoSlice::new(b"world")])
                .await
                .expect("written");
            assert_eq!(n, 7);
            conn.flush().await.expect("flushed");
            conn.shutdown().await.expect("shut down");
            // The peer reads everything, then the end of the stream.
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).await.expect("read");
            assert_eq!(got, b"hello, world");
            // Reads come through untouched.
            theirs.write_all(b"ping").await.expect("written");
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).await.expect("read");
            assert_eq!(&buf, b"ping");
        })
        .await
        .expect("bounded");
        let _: &tokio::io::DuplexStream = conn.get_ref();
        drop(conn.into_inner());
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_reads_slowly_but_steadily_is_never_timed_out() {
        // 64 bytes of buffer, and a peer that reads 64 bytes every 5 s:
        // the 1 KiB write takes 80 s, but no single wait lasts 10 s.
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut conn = WriteTimeout::new(ours, Duration::from_secs(10));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0; 64];
            while got < 1024 {
                tokio::time::sleep(Duration::from_secs(5)).await;
                got += theirs.read(&mut buf).await.expect("read");
            }
            got
        });
        let start = Instant::now();
        tokio::time::timeout(Duration::from_secs(200), conn.write_all(&[b'x'; 1024]))
            .await
            .expect("bounded")
            .expect("a steady reader is not timed out");
        assert!(start.elapsed() >= Duration::from_secs(75));
        assert_eq!(reader.await.expect("reader"), 1024);
    }
}
