//! A throwaway `redis-server` on a free loopback port, for the tests and the
//! load tool; or the server that `REDIS_URL` names.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to install when `redis-server` is missing.
pub const INSTALL: &str = "redis-server is not installed: install Debian's redis-server \
                           (`apt-get install redis-server`), or set REDIS_URL";

/// A Redis server for a test: started here (and stopped on drop), or the
/// one `REDIS_URL` names (left running).
#[derive(Debug)]
pub struct LocalRedis {
    child: Option<Child>,
    /// `redis://127.0.0.1:<port>/`.
    pub url: String,
}

impl LocalRedis {
    /// The server `REDIS_URL` names, else a new `redis-server` on
    /// 127.0.0.1 with no persistence, ready to answer `PING`.
    ///
    /// # Errors
    ///
    /// When `redis-server` cannot be started (the message says what to
    /// install) or does not answer within 10 s.
    pub fn start() -> Result<LocalRedis, String> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            if !url.is_empty() {
                return Ok(LocalRedis { child: None, url });
            }
        }
        let mut last_error = String::new();
        // A free port can be taken between our probe and the server's bind:
        // try a few.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(INSTALL.into()),
                Err(e) => return Err(format!("cannot start redis-server: {e}")),
            };
            let mut redis = LocalRedis {
                child: Some(child),
                url: format!("redis://127.0.0.1:{port}/"),
            };
            match ping(port, Duration::from_secs(10), &mut redis) {
                Ok(()) => return Ok(redis),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

/// Waits until the server on `port` answers `PING`, or it exits.
fn ping(port: u16, within: Duration, redis: &mut LocalRedis) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(child) = &mut redis.child {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server exited at start: {status}"));
            }
        }
        if let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
            let mut reply = [0u8; 7];
            if tcp.write_all(b"PING\r\n").is_ok()
                && tcp.read_exact(&mut reply).is_ok()
                && &reply == b"+PONG\r\n"
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "redis-server on port {port} did not answer PING within {within:?}"
    ))
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
