//! The demo server against hostile clients, in its own process: it lowers
//! the process's file limit and counts the heap, which no other test may
//! share. Every wait is bounded.
//!
//! - file descriptors exhausted, then given back: the server accepts again;
//! - 2,000 sockets that never send a request: closed after the request-head
//!   timeout;
//! - 2,000 clients that never read: dropped after the write timeout, and the
//!   heap back where it was;
//! - a 1 MiB `Last-Event-ID` and a 100 MiB POST: refused, without holding
//!   them.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use sse_cat::demo::{serve, Demo, DemoConfig, STREAM};
use sse_proto::ServerEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

mod common;

/// The system allocator, counting the bytes live now and the most live
/// since the last [`reset_peak`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method passes its arguments to `System` unchanged and only
// counts sizes on the side, so `System`'s guarantees hold as they are.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with `layout`, as the caller says.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc` and `dealloc`; the caller's guarantees hold.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1 << 20;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

use common::until;

/// Reads what the server sends until it closes (or resets) the
/// connection, at most `limit` later; `None` if it stays open.
async fn read_to_close(tcp: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// Room for a slow machine: what "within the documented time" allows.
const SLACK: Duration = Duration::from_secs(10);
const CLIENTS: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_server_survives_hostile_clients() {
    // Room for 2,000 clients and their 2,000 server ends.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let want = 3 * CLIENTS as u64 + 512;
    if hard < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, want).unwrap_or_else(|e| {
            panic!("this test needs {want} file descriptors; the hard limit is {hard} and raising it failed: {e}")
        });
    } else {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).expect("setrlimit");
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let demo = serve(
        listener,
        DemoConfig {
            events: Some(0),
            header_timeout: HEADER_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            keep_alive: None,
            ..DemoConfig::default()
        },
    );

    silent_sockets_are_closed(addr).await;
    non_readers_are_dropped_and_their_memory_given_back(addr, &demo).await;
    huge_heads_and_bodies_are_refused_without_holding_them(addr).await;
    out_of_file_descriptors_then_accepting_again(addr, &demo).await;
}

async fn silent_sockets_are_closed(addr: std::net::SocketAddr) {
    let mut sockets = Vec::new();
    for _ in 0..CLIENTS {
        sockets.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let start = Instant::now();
    let closed = join_all(
        sockets
            .iter_mut()
            .map(|tcp| read_to_close(tcp, HEADER_TIMEOUT + SLACK)),
    )
    .await;
    let open = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(open, 0, "sockets still open after {:?}", start.elapsed());
    eprintln!(
        "{CLIENTS} silent sockets closed {:?} after the last connected (head timeout {HEADER_TIMEOUT:?})",
        start.elapsed()
    );
}

async fn non_readers_are_dropped_and_their_memory_given_back(
    addr: std::net::SocketAddr,
    demo: &Demo,
) {
    // 4 MiB of log (64 events of 64 KiB): more than a client's buffers
    // hold, so every write to a client that does not read waits.
    for _ in 0..64 {
        demo.hub()
            .publish(STREAM, ServerEvent::new().data("x".repeat(64 * 1024 - 100)))
            .expect("publish");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = live();
    reset_peak();
    let opened = demo.streams_opened();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let tcp = common::non_reader(addr).await;
        clients.push(tcp);
    }
    until(SLACK, "every client's stream begun", || {
        demo.streams_opened() == opened + CLIENTS as u64
    })
    .await;
    let took = until(WRITE_TIMEOUT + SLACK, "every non-reader dropped", || {
        demo.hub().subscribers(STREAM) == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = live();
    eprintln!(
        "{CLIENTS} non-readers dropped {took:?} after the last connected (write timeout {WRITE_TIMEOUT:?}); \
         heap {:.1} MiB before, {:.1} MiB at most, {:.1} MiB after",
        before as f64 / MIB as f64,
        peak() as f64 / MIB as f64,
        after as f64 / MIB as f64
    );
    assert!(
        after <= before + MIB,
        "heap {before} before, {after} after the non-readers were dropped"
    );
    // While they were connected, each cost far less than the 4 MiB it was
    // owed: the log's events are shared, not copied per client.
    assert!(
        peak() - before < CLIENTS * 64 * 1024,
        "peak {} over {before}",
        peak() - before
    );
    drop(clients);
}

async fn huge_heads_and_bodies_are_refused_without_holding_them(addr: std::net::SocketAddr) {
    // A 1 MiB Last-Event-ID: refused once the head passes 16 KiB.
    let head = format!(
        "GET /events HTTP/1.1\r\nhost: x\r\nlast-event-id: {}\r\n\r\n",
        "7".repeat(MIB)
    );
    let before = live();
    reset_peak();
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    // The server may close before all of it is written.
    let _ = tcp.write_all(head.as_bytes()).await;
    let reply = read_to_close(&mut tcp, SLACK)
        .await
        .expect("the server closes it");
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "a 1 MiB head: {reply:.80}"
    );
    assert!(
        peak() - before < MIB / 2,
        "held {} bytes of it",
        peak() - before
    );

    // A 100 MiB report: refused after 64 KiB.
    drop(head);
    let before = live();
    reset_peak();
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"POST /report HTTP/1.1\r\nhost: x\r\ncontent-length: 104857600\r\n\r\n")
        .await
        .expect("head");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    let (mut rx, mut tx) = tcp.split();
    let send = async {
        while sent < 100 * MIB {
            if tx.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
    };
    let mut reply = Vec::new();
    let read = async {
        let _ = tokio::time::timeout(SLACK, rx.read_to_end(&mut reply)).await;
    };
    tokio::time::timeout(SLACK * 3, futures_util::future::join(send, read))
        .await
        .expect("bounded");
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.1 413"),
        "a 100 MiB POST: {reply:.80}"
    );
    assert!(
        peak() - before < 4 * MIB,
        "held {} bytes of a 100 MiB body",
        peak() - before
    );
    eprintln!(
        "1 MiB head and 100 MiB body ({} MiB sent before the server closed) refused; peak heap growth {} KiB",
        sent / MIB,
        (peak() - before) / 1024
    );
}

async fn out_of_file_descriptors_then_accepting_again(addr: std::net::SocketAddr, demo: &Demo) {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    // Sockets made now, connected once no descriptor is left for accept.
    let sockets: Vec<TcpSocket> = (0..8)
        .map(|_| TcpSocket::new_v4().expect("socket"))
        .collect();
    let mut filler = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => filler.push(f),
            Err(e) if e.raw_os_error() == Some(nix::libc::EMFILE) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(filler.len() < soft as usize, "no EMFILE");
    }
    let errors = demo.accept_errors();
    let mut clients = Vec::new();
    for socket in sockets {
        // The kernel completes the handshake; the server cannot accept.
        clients.push(socket.connect(addr).await.expect("connect"));
    }
    until(SLACK, "an accept error", || demo.accept_errors() > errors).await;
    drop(filler);
    // Accepting again: each connection gets its answer.
    for tcp in &mut clients {
        tcp.write_all(b"GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("request");
        let reply = read_to_close(tcp, SLACK).await.expect("an answer");
        assert!(
            reply.starts_with(b"HTTP/1.1 404"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
    eprintln!(
        "out of descriptors: {} accept errors, then all {} waiting connections served",
        demo.accept_errors() - errors,
        clients.len()
    );
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("setrlimit");
}
