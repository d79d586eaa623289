//! `load`: how many SSE clients one instance serves, and how long an event
//! takes from publish to client, on this machine, over loopback.
//!
//! ```sh
//! cargo run --release -p redis-fanout --bin load -- --clients 1000 --events 200 --rate 50
//! ```
//!
//! Starts a `redis-server` on a free port (or uses `REDIS_URL`), one
//! instance in this process, and `--clients` plain HTTP/1.1 clients (hyper
//! and this project's decoder, no reconnection). Once every client has its
//! response head, it publishes `--events` events at `--rate` a second,
//! each carrying the time it was published, and each client records, per
//! event, the time from publish to decoded event. Server, Redis and
//! clients share the machine's cores, so the figures are an upper bound on
//! what a server alone would add. Everything is bounded by `--timeout-s`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use redis_fanout::local::LocalRedis;
use redis_fanout::{serve, Config, Fanout, ServerConfig};
use sse_proto::{Decoder, Frame};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a whole number")),
        None => default,
    }
}

/// What one client saw: latencies in microseconds, and whether the events
/// came in order.
struct Report {
    latencies: Vec<u64>,
    in_order: bool,
}

async fn sse_client(
    addr: std::net::SocketAddr,
    base: Instant,
    events: usize,
    ready: Arc<AtomicU64>,
) -> Result<Report, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::get("/events")
        .header("host", "127.0.0.1")
        .header("accept", "text/event-stream")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = send.send_request(req).await.map_err(|e| e.to_string())?;
    if res.status() != 200 {
        return Err(format!("status {}", res.status()));
    }
    ready.fetch_add(1, Ordering::SeqCst);
    let mut body = res.into_body();
    let mut decoder = Decoder::new();
    let mut report = Report {
        latencies: Vec::with_capacity(events),
        in_order: true,
    };
    let mut last = None;
    while report.latencies.len() < events {
        let Some(frame) = body.frame().await else {
            return Err("the stream ended".into());
        };
        let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() else {
            continue;
        };
        for frame in decoder.frames(data) {
            if let Ok(Frame::Event(e)) = frame {
                let now = base.elapsed().as_micros() as u64;
                let sent: u64 = e.data().parse().map_err(|_| "bad data".to_owned())?;
                report.latencies.push(now.saturating_sub(sent));
                let id = e.last_event_id().into_owned();
                let id: redis_fanout::EntryId = id.parse().map_err(|_| "bad id".to_owned())?;
                if last.is_some_and(|l| l >= id) {
                    report.in_order = false;
                }
                last = Some(id);
            }
        }
    }
    Ok(report)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: load [--clients N (1000)] [--events N (200)] [--rate PER_S (50)] [--timeout-s S (120)]");
        return;
    }
    let clients = arg(&args, "--clients", 1000) as usize;
    let events = arg(&args, "--events", 200) as usize;
    let rate = arg(&args, "--rate", 50).max(1);
    let timeout = Duration::from_secs(arg(&args, "--timeout-s", 120));

    let redis = LocalRedis::start().unwrap_or_else(|e| {
        eprintln!("load: {e}");
        std::process::exit(1);
    });
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        tokio::time::timeout(timeout, run(&redis.url, clients, events, rate)).await
    });
    match outcome {
        Ok(Ok(text)) => print!("{text}"),
        Ok(Err(e)) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("load: not done within {timeout:?}");
            std::process::exit(1);
        }
    }
}

async fn run(redis: &str, clients: usize, events: usize, rate: u64) -> Result<String, String> {
    let stream = format!("load:{}", std::process::id());
    let client = redis::Client::open(redis).map_err(|e| e.to_string())?;
    let mut config = Config::new(&stream);
    config.retry = None;
    let fanout = Fanout::start(client, config)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = ServerConfig {
        keep_alive: None,
        ..ServerConfig::default()
    };
    tokio::spawn(serve(listener, fanout.clone(), server));

    let base = Instant::now();
    let ready = Arc::new(AtomicU64::new(0));
    let connect_started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        tasks.push(tokio::spawn(sse_client(addr, base, events, ready.clone())));
        if i % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    while ready.load(Ordering::SeqCst) < clients as u64 {
        if tasks.iter().any(|t| t.is_finished()) {
            break; // one failed to connect: its error is reported below
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connected_in = connect_started.elapsed();
    // Every subscription on the live feed before the first event (bounded
    // by the run's timeout).
    while fanout.live_clients() < clients && !tasks.iter().any(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let publish_started = Instant::now();
    let mut tick = tokio::time::interval(every);
    for _ in 0..events {
        tick.tick().await;
        let now = base.elapsed().as_micros() as u64;
        fanout
            .publish(None, &now.to_string())
            .await
            .map_err(|e| e.to_string())?;
    }
    let published_in = publish_started.elapsed();

    let mut all = Vec::with_capacity(clients * events);
    let (mut failed, mut out_of_order) = (Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok(Ok(r)) => {
                out_of_order += usize::from(!r.in_order);
                all.extend(r.latencies);
            }
            Ok(Err(e)) => failed.push(e),
            Err(e) => failed.push(e.to_string()),
        }
    }
    let delivered_in = publish_started.elapsed();
    all.sort_unstable();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(out, "# redis-fanout load\n");
    let _ = writeln!(
        out,
        "{cpu}, {cores} cores; Redis, one instance and the clients on the same machine, loopback; load average {}.\n",
        load.split_whitespace().next().unwrap_or("?")
    );
    let _ = writeln!(out, "| figure | value |\n| --- | ---: |");
    let _ = writeln!(out, "| concurrent SSE clients | {clients} |");
    let _ = writeln!(out, "| clients that failed | {} |", failed.len());
    let _ = writeln!(
        out,
        "| all connected in | {:.2} s |",
        connected_in.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| events published | {events} at {rate}/s (took {:.2} s) |",
        published_in.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| events delivered | {} of {} |",
        all.len(),
        clients * events
    );
    let _ = writeln!(out, "| clients with events out of order | {out_of_order} |");
    let _ = writeln!(
        out,
        "| deliveries a second | {:.0} |",
        all.len() as f64 / delivered_in.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| publish to client, median | {:.2} ms |",
        percentile(&all, 0.5)
    );
    let _ = writeln!(
        out,
        "| publish to client, p99 | {:.2} ms |",
        percentile(&all, 0.99)
    );
    let _ = writeln!(
        out,
        "| publish to client, max | {:.2} ms |",
        all.last().map_or(f64::NAN, |&m| m as f64 / 1000.0)
    );
    if let Some(e) = failed.first() {
        let _ = writeln!(out, "\nFirst failure: {e}");
    }
    if !failed.is_empty() || out_of_order > 0 || all.len() != clients * events {
        return Err(out);
    }
    Ok(out)
}
