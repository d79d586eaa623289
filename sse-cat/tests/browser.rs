//! A real browser's `EventSource` against the demo server: headless
//! Chromium loads the page, the server drops the connection every few
//! events, the browser reconnects with `Last-Event-ID`, and every event
//! must arrive exactly once, in order, with its type, data and id.
//!
//! Needs Debian's `chromium`, so it is `#[ignore]`d: run it with
//! `cargo test -p sse-cat --test browser -- --ignored` (`.ci/run` does). Run
//! so, it fails when Chromium is missing, saying what to install.
#![cfg(unix)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use sse_cat::demo::{serve, ticker_parts, DemoConfig};
use tokio::net::TcpListener;

const EVENTS: u64 = 15;
const DROP_AFTER: u64 = 4;

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium (Debian package chromium); CI runs it with --ignored"]
async fn browser_gets_every_event_once_in_order_across_dropped_connections() {
    let chromium = find_chromium().expect(
        "Chromium is not on PATH (chromium, chromium-browser or google-chrome): \
         install Debian's chromium (`apt-get install chromium`)",
    );

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("address");
    let demo = serve(
        listener,
        DemoConfig {
            events: Some(EVENTS),
            interval: Duration::from_millis(60),
            drop_after: Some(DROP_AFTER),
            retry: Duration::from_millis(100),
            keep_alive: Some(Duration::from_secs(1)),
            replay: 100,
            ..DemoConfig::default()
        },
    );

    let profile = std::env::temp_dir().join(format!("sse-proto-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut browser = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://{addr}/?n={EVENTS}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");

    // Bounded: the page reports once it has all the events.
    let report = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(report) = demo.reports().into_iter().next() {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    // Stop the browser and its helper processes (its own process group).
    // Signalled through the system call, not the `kill` command: Debian 12's
    // procps 4.0.2 reads `kill -TERM -12345` as `kill(-1, SIGTERM)`, which
    // would signal every process on the machine.
    if let Some(pid) = browser.id() {
        let group = Pid::from_raw(i32::try_from(pid).expect("pid fits i32"));
        let _ = killpg(group, Signal::SIGTERM);
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), browser.wait()).await;
    let _ = browser.kill().await;
    let _ = std::fs::remove_dir_all(&profile);

    let report = report.expect("the browser reported its events within 60 s");
    let got: Vec<Value> = serde_json::from_str(&report).expect("the report is JSON");
    // Hub ids: EPOCH-STREAM-N.
    let id = |n: u64| format!("{:016x}-0-{n}", demo.hub().epoch());
    let got: Vec<(String, String, String)> = got
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (field("type"), field("data"), field("id"))
        })
        .collect();
    let expected: Vec<(String, String, String)> = (1..=EVENTS)
        .map(|n| {
            let (event_type, data) = ticker_parts(n);
            (event_type.to_owned(), data, id(n))
        })
        .collect();
    assert_eq!(got, expected, "the browser's events");

    // The browser reconnected after every drop, resuming from the last id.
    let ids = demo.last_event_ids();
    let resumed: Vec<Option<String>> = (0..EVENTS / DROP_AFTER + 1)
        .map(|k| (k > 0).then(|| id(k * DROP_AFTER)))
        .collect();
    assert_eq!(
        ids[..resumed.len()],
        resumed[..],
        "Last-Event-ID of each request"
    );
    eprintln!(
        "browser: {} events over {} connections; Last-Event-ID sent: {:?}",
        got.len(),
        ids.len(),
        ids
    );
}
