//! What one SSE connection costs a server, and how many a core can feed:
//! `sse-proto`'s `Hub` behind axum, against what users write today, axum's
//! `Sse` over a `tokio::sync::broadcast` channel. Both servers run the same
//! way, each in its own process on a one-thread tokio runtime, on loopback.
//!
//! `cargo run --release -p sse-benches --bin fanout` prints a Markdown table:
//! for each server and 1,000 and 10,000 subscribers of one stream,
//!
//! - deliveries per second per core: `events x subscribers` delivered (every
//!   one counted by the clients) over the server process's CPU time, for a
//!   burst of 500 events of 100 bytes, and for the paced events below (one
//!   event per wake-up: nothing to gather);
//! - publish-to-client latency p50 and p99, at 50 events per second;
//! - memory per idle subscriber: the slope of the server's RSS from 1,000 to
//!   10,000 open connections.
//!
//! Options: `--subscribers A,B` (default `1000,10000`), `--burst N` (500),
//! `--paced N` (100 events at 50/s). The clients share the machine with the
//! server: on 2 cores, the server gets one and the clients the other.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The bytes of each event's data: a 20-digit timestamp, then padding.
const DATA: usize = 100;
const STREAM: &str = "bench";

/// CLOCK_MONOTONIC in nanoseconds: the same clock in both processes.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    #[allow(unsafe_code)]
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts)
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// This process's CPU time (user and system), in microseconds.
fn cpu_us() -> u64 {
    // SAFETY: an all-zero rusage is a valid value for the call to overwrite.
    #[allow(unsafe_code)]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    #[allow(unsafe_code)]
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut usage)
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// This process's resident set, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Room for `n` open files, or as many as the hard limit allows.
fn raise_file_limit(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit; then a valid one is passed.
    #[allow(unsafe_code)]
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        if lim.rlim_max < n {
            let want = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return;
            }
        }
        lim.rlim_cur = lim.rlim_max.min(n.max(lim.rlim_cur));
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// An event's data: the publish time, then padding to [`DATA`] bytes.
fn payload() -> String {
    let mut s = format!("{:020}", now_ns());
    s.extend(std::iter::repeat_n('x', DATA - s.len()));
    s
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hub,
    Lean,
    AxumBroadcast,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Hub => "sse-proto Hub + SseBody (axum)",
            Kind::Lean => "sse-proto Hub + server::serve",
            Kind::AxumBroadcast => "axum Sse + tokio broadcast",
        }
    }
    fn arg(self) -> &'static str {
        match self {
            Kind::Hub => "hub",
            Kind::Lean => "lean",
            Kind::AxumBroadcast => "axum",
        }
    }
}

// ---------------------------------------------------------------- server --

/// The server process: serves `/events`, and takes commands on stdin, one
/// per line, answering each on stdout: `publish N INTERVAL_US` (answers
/// when all are published), `subscribers`, `stats` (CPU µs and RSS KiB).
fn serve(kind: Kind) {
    raise_file_limit(40_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("address").port());
        let publisher: Arc<dyn Fn() + Send + Sync>;
        let subscribers: Arc<dyn Fn() -> usize + Send + Sync>;
        match kind {
            Kind::Hub => {
                use sse_proto::adapter::body::SseBody;
                use sse_proto::server::{last_event_id, Hub, Subscription};
                let hub = Hub::new();
                async fn events(
                    axum::extract::State(hub): axum::extract::State<Hub>,
                    headers: axum::http::HeaderMap,
                ) -> SseBody<Subscription> {
                    SseBody::new(hub.subscribe(STREAM, last_event_id(&headers)))
                }
                let app = axum::Router::new()
                    .route("/events", axum::routing::get(events))
                    .with_state(hub.clone());
                tokio::spawn(async move { axum::serve(listener, app).await });
                let h = hub.clone();
                publisher = Arc::new(move || {
                    let _ = h.publish(STREAM, sse_proto::ServerEvent::new().data(payload()));
                });
                subscribers = Arc::new(move || hub.subscribers(STREAM));
            }
            Kind::Lean => {
                use sse_proto::server::{serve, Hub, ServeConfig};
                let hub = Hub::new();
                let config = ServeConfig::new(|_| Some(STREAM.into()));
                tokio::spawn(serve(listener, hub.clone(), config));
                let h = hub.clone();
                publisher = Arc::new(move || {
                    let _ = h.publish(STREAM, sse_proto::ServerEvent::new().data(payload()));
                });
                subscribers = Arc::new(move || hub.subscribers(STREAM));
            }
            Kind::AxumBroadcast => {
                use axum::response::sse::{Event, KeepAlive, Sse};
                use futures::Stream;
                use tokio::sync::broadcast;
                let (tx, _) = broadcast::channel::<String>(1024);
                // As the axum examples and most users write it.
                async fn events(
                    axum::extract::State(tx): axum::extract::State<broadcast::Sender<String>>,
                ) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>
                {
                    let rx = tx.subscribe();
                    let stream = futures::stream::unfold(rx, |mut rx| async move {
                        loop {
                            match rx.recv().await {
                                Ok(data) => return Some((Ok(Event::default().data(data)), rx)),
                                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                                Err(broadcast::error::RecvError::Closed) => return None,
                            }
                        }
                    });
                    Sse::new(stream).keep_alive(KeepAlive::default())
                }
                let app = axum::Router::new()
                    .route("/events", axum::routing::get(events))
                    .with_state(tx.clone());
                tokio::spawn(async move { axum::serve(listener, app).await });
                let t = tx.clone();
                publisher = Arc::new(move || {
                    let _ = t.send(payload());
                });
                subscribers = Arc::new(move || tx.receiver_count());
            }
        }
        let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        while let Some(line) = lines.recv().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            let answer = match words.as_slice() {
                ["publish", n, interval] => {
                    let n: u64 = n.parse().expect("count");
                    let interval: u64 = interval.parse().expect("interval");
                    if interval == 0 {
                        for _ in 0..n {
                            publisher();
                        }
                    } else {
                        let mut every = tokio::time::interval(Duration::from_micros(interval));
                        for _ in 0..n {
                            every.tick().await;
                            publisher();
                        }
                    }
                    "published".to_owned()
                }
                ["subscribers"] => subscribers().to_string(),
                ["stats"] => format!("{} {}", cpu_us(), rss_kib()),
                _ => "?".to_owned(),
            };
            println!("{answer}");
        }
    });
}

// ---------------------------------------------------------------- client --

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Server {
    fn start(kind: Kind) -> Server {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--serve", kind.arg()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server process");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the port");
        let port = line.trim().parse().expect("a port");
        Server {
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("command");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("answer");
        line.trim().to_owned()
    }

    fn stats(&mut self) -> (u64, u64) {
        let a = self.ask("stats");
        let mut it = a.split(' ').map(|n| n.parse::<u64>().expect("a number"));
        (it.next().expect("cpu"), it.next().expect("rss"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the clients have seen.
#[derive(Default)]
struct Seen {
    delivered: AtomicU64,
    /// Publish-to-read latencies in µs, while recording.
    latencies: Mutex<Vec<u32>>,
    recording: std::sync::atomic::AtomicBool,
}

/// One client: sends the request, then counts events and, while
/// recording, their latency.
async fn client(port: u16, seen: Arc<Seen>) {
    let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    if tcp
        .write_all(b"GET /events HTTP/1.1\r\nhost: bench\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut in_body = false;
    let mut local = Vec::new();
    loop {
        let n = match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let at = now_ns();
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        if !in_body {
            let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") else {
                continue;
            };
            in_body = true;
            start = end + 4;
        }
        // Count the data lines of whole events; chunked framing lines
        // (hex sizes) are skipped as they carry no `data:`.
        let mut consumed = start;
        for pos in memchr::memmem::find_iter(&buf[start..], b"data:") {
            let pos = start + pos;
            let from = pos + 5 + usize::from(buf.get(pos + 5) == Some(&b' '));
            if from + 20 > buf.len() {
                break;
            }
            consumed = from + 20;
            seen.delivered.fetch_add(1, Ordering::Relaxed);
            if seen.recording.load(Ordering::Relaxed) {
                let sent: u64 = std::str::from_utf8(&buf[from..from + 20])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(at);
                local.push(((at.saturating_sub(sent)) / 1000) as u32);
                if local.len() >= 64 {
                    seen.latencies
                        .lock()
                        .expect("not poisoned")
                        .append(&mut local);
                }
            } else if !local.is_empty() {
                seen.latencies
                    .lock()
                    .expect("not poisoned")
                    .append(&mut local);
            }
        }
        if seen.recording.load(Ordering::Relaxed) && !local.is_empty() {
            seen.latencies
                .lock()
                .expect("not poisoned")
                .append(&mut local);
        }
        buf.drain(..consumed);
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

struct Row {
    kind: Kind,
    subscribers: usize,
    delivered: u64,
    expected: u64,
    cpu_s: f64,
    /// Deliveries per CPU second at 50 events per second: one event per
    /// wake-up, nothing to gather.
    paced_rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_kib: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let kind = match args.get(i + 1).map(String::as_str) {
            Some("hub") => Kind::Hub,
            Some("axum") => Kind::AxumBroadcast,
            Some("lean") => Kind::Lean,
            other => panic!("--serve hub|axum, not {other:?}"),
        };
        return serve(kind);
    }
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sizes: Vec<usize> = opt("--subscribers")
        .unwrap_or_else(|| "1000,10000".into())
        .split(',')
        .map(|n| n.parse().expect("a number of subscribers"))
        .collect();
    let burst: u64 = opt("--burst").map_or(500, |n| n.parse().expect("--burst N"));
    let paced: u64 = opt("--paced").map_or(100, |n| n.parse().expect("--paced N"));
    raise_file_limit(40_000);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut rows = Vec::new();
    let mut slopes = Vec::new();
    for kind in [Kind::AxumBroadcast, Kind::Hub, Kind::Lean] {
        let mut server = Server::start(kind);
        let seen = Arc::new(Seen::default());
        let mut open = 0usize;
        let mut rss_at = Vec::new();
        for &n in &sizes {
            for _ in open..n {
                rt.spawn(client(server.port, seen.clone()));
            }
            open = n;
            let subscribed = (0..3000).any(|_| {
                std::thread::sleep(Duration::from_millis(10));
                server.ask("subscribers").parse::<usize>().ok() == Some(n)
            });
            assert!(subscribed, "{}: {n} subscribers within 30 s", kind.name());
            std::thread::sleep(Duration::from_millis(300));
            let (_, rss) = server.stats();
            rss_at.push((n, rss));

            // Throughput: a burst, every event to every subscriber.
            let before = seen.delivered.load(Ordering::SeqCst);
            let (cpu0, _) = server.stats();
            assert_eq!(server.ask(&format!("publish {burst} 0")), "published");
            let expected = burst * n as u64;
            let delivered = (0..6000)
                .map(|_| {
                    std::thread::sleep(Duration::from_millis(10));
                    seen.delivered.load(Ordering::SeqCst) - before
                })
                .find(|&d| d >= expected)
                .unwrap_or_else(|| seen.delivered.load(Ordering::SeqCst) - before);
            let (cpu1, _) = server.stats();

            // Latency: paced, 50 events per second.
            let before = seen.delivered.load(Ordering::SeqCst);
            let (cpu2, _) = server.stats();
            seen.recording.store(true, Ordering::SeqCst);
            assert_eq!(server.ask(&format!("publish {paced} 20000")), "published");
            let want = paced * n as u64;
            let _ = (0..3000).any(|_| {
                std::thread::sleep(Duration::from_millis(10));
                seen.delivered.load(Ordering::SeqCst) - before >= want
            });
            seen.recording.store(false, Ordering::SeqCst);
            let paced_delivered = seen.delivered.load(Ordering::SeqCst) - before;
            let (cpu3, _) = server.stats();
            let mut lat = std::mem::take(&mut *seen.latencies.lock().expect("not poisoned"));
            lat.sort_unstable();
            rows.push(Row {
                kind,
                subscribers: n,
                delivered,
                expected,
                cpu_s: (cpu1 - cpu0) as f64 / 1e6,
                paced_rate: paced_delivered as f64 / ((cpu3 - cpu2) as f64 / 1e6),
                p50_ms: percentile(&lat, 0.5),
                p99_ms: percentile(&lat, 0.99),
                rss_kib: rss,
            });
        }
        if let (Some(&(n0, r0)), Some(&(n1, r1))) = (rss_at.first(), rss_at.last()) {
            if n1 > n0 {
                slopes.push((kind, (r1 as f64 - r0 as f64) / (n1 - n0) as f64));
            }
        }
        drop(server);
        // The clients end when the server goes.
        std::thread::sleep(Duration::from_millis(500));
    }
    rt.shutdown_timeout(Duration::from_secs(5));

    println!("# SSE fan-out: one stream, 100-byte events, loopback\n");
    println!("Load average at start: {}", load.trim());
    println!(
        "\n| server | subscribers | burst delivered | deliveries/s/core, burst | deliveries/s/core, 50/s | p50 | p99 | server RSS |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {}/{} | {:.0} | {:.0} | {:.2} ms | {:.2} ms | {:.1} MiB |",
            r.kind.name(),
            r.subscribers,
            r.delivered,
            r.expected,
            r.delivered as f64 / r.cpu_s,
            r.paced_rate,
            r.p50_ms,
            r.p99_ms,
            r.rss_kib as f64 / 1024.0
        );
    }
    println!("\n| server | memory per idle subscriber (RSS slope) |");
    println!("| --- | ---: |");
    for (kind, slope) in &slopes {
        println!("| {} | {:.2} KiB |", kind.name(), slope);
    }
    // The targets of issue 16, from this run's figures.
    let rate = |k: Kind, n: usize, paced: bool| {
        rows.iter()
            .find(|r| r.kind == k && r.subscribers == n)
            .map(|r| {
                if paced {
                    r.paced_rate
                } else {
                    r.delivered as f64 / r.cpu_s
                }
            })
    };
    println!("\n## Targets\n");
    println!("| target | case | measured | met |");
    println!("| --- | --- | ---: | --- |");
    for &n in &sizes {
        for (paced, how) in [(false, "burst"), (true, "50 events/s")] {
            for ours in [Kind::Hub, Kind::Lean] {
                if let (Some(r), Some(theirs)) =
                    (rate(ours, n, paced), rate(Kind::AxumBroadcast, n, paced))
                {
                    let x = r / theirs;
                    println!(
                        "| {}: deliveries/s/core ≥ 2x axum+broadcast | {n} subscribers, {how} | {x:.2}x | {} |",
                        ours.name(),
                        if x >= 2.0 { "yes" } else { "**no**" }
                    );
                }
            }
        }
    }
    let slope = |k: Kind| slopes.iter().find(|(kk, _)| *kk == k).map(|(_, s)| *s);
    for ours in [Kind::Hub, Kind::Lean] {
        if let (Some(s), Some(theirs)) = (slope(ours), slope(Kind::AxumBroadcast)) {
            let x = s / theirs;
            println!(
                "| {}: memory per idle subscriber ≤ 0.5x axum+broadcast | RSS slope | {x:.2}x | {} |",
                ours.name(),
                if x <= 0.5 { "yes" } else { "**no**" }
            );
        }
    }
    for r in &rows {
        if r.delivered < r.expected {
            println!(
                "\n- {} at {}: {} of {} deliveries arrived (lost or late)",
                r.kind.name(),
                r.subscribers,
                r.delivered,
                r.expected
            );
        }
    }
}
