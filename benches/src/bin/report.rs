//! Runs every contender once over every case and prints a Markdown report:
//! throughput, its ratio to the `memchr` ceiling and to the fastest correct
//! peer, allocations per event, the correctness gate and the targets.
//!
//! ```sh
//! cargo run --release -p sse-benches --bin report [-- --budget-ms 200 --runs 5]
//! ```
//!
//! Each measurement repeats whole passes over the case for a fixed wall-clock
//! budget, split into `runs` runs; the figure is the median run. A whole
//! report takes well under two minutes with the defaults.

// A global allocator cannot be written without `unsafe`; it is confined to the
// counting wrapper below, which defers every call to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use sse_benches::{cases, encode_cases, Case, Contender, Encoder, Ev, Outcome, Role, Scratch};

/// Counts allocations while [`COUNTING`] is set. While it is not (during the
/// timed runs) the only cost is one relaxed load, so that peers that allocate
/// a lot are not slowed by the counting.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated minus bytes freed while counting.
static LIVE: AtomicI64 = AtomicI64::new(0);

#[inline]
fn count() {
    if COUNTING.load(Relaxed) {
        ALLOCS.fetch_add(1, Relaxed);
    }
}

#[inline]
fn live(delta: i64) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_add(delta, Relaxed);
    }
}

// SAFETY: defers every call to `System`, only counting with atomics, which
// never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        live(layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        live(layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live(-(layout.size() as i64));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        live(new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (including reallocations) made by one call of `pass`.
fn allocations(pass: impl FnOnce()) -> u64 {
    ALLOCS.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    pass();
    COUNTING.store(false, Relaxed);
    ALLOCS.load(Relaxed)
}

/// The size of the large event of [`retained_after_large_event`].
const LARGE_EVENT: usize = 8 << 20;

/// Decodes one 8 MiB event (one `data` line in 4 KiB chunks) and keeps it;
/// returns the bytes the decoder and the event hold beyond the event's data
/// (heap bytes allocated and not freed, minus the data's length).
///
/// The chunks are slices of one buffer made before counting, so that handing
/// them over and dropping them frees nothing.
fn retained_after_large_event() -> i64 {
    let mut stream = b"data: ".to_vec();
    stream.resize(6 + LARGE_EVENT, b'x');
    stream.extend_from_slice(b"\n\n");
    let all = bytes::Bytes::from(stream);
    let chunks: Vec<bytes::Bytes> = (0..all.len())
        .step_by(4096)
        .map(|at| all.slice(at..all.len().min(at + 4096)))
        .collect();
    LIVE.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    let mut decoder = sse_proto::Decoder::new();
    let mut data = 0;
    let mut events = Vec::with_capacity(1);
    // Clones (a reference count each), not the chunks themselves: the
    // vector's buffer, freed while counting, would count against the decoder.
    for c in chunks.iter().cloned() {
        for frame in decoder.frames(c) {
            if let Ok(sse_proto::Frame::Event(e)) = frame {
                data += e.data_bytes().len();
                events.push(e);
            }
        }
    }
    COUNTING.store(false, Relaxed);
    let live = LIVE.load(Relaxed);
    assert_eq!(data, LARGE_EVENT, "the decoder hands out the large event");
    drop((events, decoder));
    live - data as i64
}

/// The time this thread has spent on a CPU, where the system can say: the
/// machine may be shared, and time spent waiting for a CPU is not the
/// parser's.
#[cfg(unix)]
fn cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` only writes the `timespec` we own and pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(unix))]
fn cpu_time() -> Option<Duration> {
    None
}

/// One timed run: whole passes (`pass`) until `budget` of wall-clock time has
/// elapsed (at least one pass). Returns MB/s (10^6 bytes a second, `bytes` a
/// pass) of on-CPU time, or of wall-clock time where there is no CPU clock.
fn timed_run(pass: &mut dyn FnMut(), bytes: usize, budget: Duration) -> f64 {
    let start = Instant::now();
    let cpu_start = cpu_time();
    let mut passes = 0u64;
    while passes == 0 || start.elapsed() < budget {
        pass();
        passes += 1;
    }
    let elapsed = match (cpu_start, cpu_time()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => start.elapsed(),
    };
    (bytes as u64 * passes) as f64 / elapsed.as_secs_f64() / 1e6
}

/// The median throughput of each of `passes` (each doing `bytes` a pass),
/// over `runs` runs of `budget / runs` each. The runs are interleaved
/// (contender after contender, round after round), so that a burst of load
/// from elsewhere on the machine slows every contender alike instead of one.
fn throughputs(
    passes: &mut [Box<dyn FnMut() + '_>],
    bytes: usize,
    budget: Duration,
    runs: u32,
) -> Vec<f64> {
    for pass in passes.iter_mut() {
        pass(); // warm up caches and lazily built state
    }
    let per_run = budget / runs;
    let mut rates = vec![Vec::new(); passes.len()];
    for _ in 0..runs {
        for (i, pass) in passes.iter_mut().enumerate() {
            rates[i].push(timed_run(pass, bytes, per_run));
        }
    }
    rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

/// The correctness gate's verdict for one contender on one case.
#[derive(Debug, Clone)]
enum Verdict {
    /// No events to compare (the ceiling, the bare parser).
    NotApplicable,
    /// The same events as ours, in order.
    Correct,
    /// Different events, or an error; the string says where.
    Wrong(String),
}

impl Verdict {
    fn is_correct(&self) -> bool {
        matches!(self, Verdict::Correct)
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    format!("{out:?}")
}

/// Compares `got` with `want` and says where they first differ.
fn compare(got: Outcome, want: &[Ev]) -> Verdict {
    let Outcome { events: got, error } = got;
    let differ = got.iter().zip(want).position(|(g, w)| g != w);
    let count = if got.len() == want.len() {
        String::new()
    } else {
        format!("{} events instead of {}; ", got.len(), want.len())
    };
    let first = match differ {
        Some(i) => {
            let (g, w) = (&got[i], &want[i]);
            let field = if g.event_type != w.event_type {
                format!("type {} for {}", short(&g.event_type), short(&w.event_type))
            } else if g.data != w.data {
                format!("data {} for {}", short(&g.data), short(&w.data))
            } else {
                format!("id {} for {}", short(&g.id), short(&w.id))
            };
            format!("event #{i} differs: {field}")
        }
        None if got.len() < want.len() => format!("stops after event #{}", got.len()),
        None if got.len() > want.len() => format!("extra events from #{}", want.len()),
        None => String::new(),
    };
    match (error, count.is_empty() && first.is_empty()) {
        (None, true) => Verdict::Correct,
        (None, false) => Verdict::Wrong(format!("{count}{first}")),
        (Some(e), _) => Verdict::Wrong(format!("error {e:?} ({count}{first})")),
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a number")),
        None => default,
    }
}

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The 1-minute load average, which says whether the machine was busy.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn mbs(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: report [--budget-ms MS (200)] [--runs N (5)]");
        return;
    }
    let budget = Duration::from_millis(arg(&args, "--budget-ms", 200));
    let runs = arg(&args, "--runs", 5).max(1) as u32;
    let started = Instant::now();
    let load = loadavg();
    let cases = cases();
    let contenders = Contender::ALL;

    // The correctness gate: our decoder against the reference model of the
    // standard, every other contender against our decoder.
    let mut verdicts: HashMap<(Contender, usize), Verdict> = HashMap::new();
    let mut ours_vs_model = Vec::new();
    let mut events_per_case = Vec::new();
    for (ci, case) in cases.iter().enumerate() {
        let model: Vec<Ev> = sse_codec_tests::reference::interpret(&case.bytes)
            .events()
            .into_iter()
            .map(|(event_type, data, id)| Ev {
                event_type,
                data,
                id,
            })
            .collect();
        let ours = match Contender::Decoder.events(&case.chunks) {
            Some(Outcome {
                events,
                error: None,
            }) => events,
            other => panic!("our decoder failed on {}: {other:?}", case.name()),
        };
        let outcome = Outcome {
            events: ours.clone(),
            error: None,
        };
        ours_vs_model.push(compare(outcome, &model));
        events_per_case.push(ours.len() as u64);
        for &c in &contenders {
            let verdict = match c.events(&case.chunks) {
                None => Verdict::NotApplicable,
                Some(got) => compare(got, &ours),
            };
            verdicts.insert((c, ci), verdict);
        }
    }

    // Throughput and allocations, all in this run.
    let mut rate: HashMap<(Contender, usize), f64> = HashMap::new();
    let mut allocs: HashMap<(Contender, usize), u64> = HashMap::new();
    for (ci, case) in cases.iter().enumerate() {
        for &c in &contenders {
            allocs.insert(
                (c, ci),
                allocations(|| {
                    c.run(&case.chunks);
                }),
            );
        }
        let mut passes: Vec<Box<dyn FnMut()>> = contenders
            .iter()
            .map(|&c| {
                Box::new(move || {
                    c.run(&case.chunks);
                }) as Box<dyn FnMut()>
            })
            .collect();
        let rates = throughputs(&mut passes, case.len(), budget, runs);
        for (&c, r) in contenders.iter().zip(rates) {
            rate.insert((c, ci), r);
        }
    }
    let retained = retained_after_large_event();
    // The encoders, on the events of four corpora.
    let enc_cases = encode_cases();
    let encoders = Encoder::ALL;
    let mut enc_verdict: HashMap<(Encoder, usize), Result<(), String>> = HashMap::new();
    let mut enc_rate: HashMap<(Encoder, usize), f64> = HashMap::new();
    let mut enc_allocs: HashMap<(Encoder, usize), u64> = HashMap::new();
    for (ci, case) in enc_cases.iter().enumerate() {
        let mut scratch = Scratch::for_items(&case.items);
        for &e in &encoders {
            enc_verdict.insert((e, ci), e.output(&case.items).map(drop));
            enc_allocs.insert(
                (e, ci),
                allocations(|| {
                    e.run(&case.items, &mut scratch);
                }),
            );
        }
        let mut scratches: Vec<Scratch> = encoders
            .iter()
            .map(|_| Scratch::for_items(&case.items))
            .collect();
        let mut passes: Vec<Box<dyn FnMut() + '_>> = encoders
            .iter()
            .zip(scratches.iter_mut())
            .map(|(&e, scratch)| {
                let items = &case.items;
                Box::new(move || {
                    e.run(items, scratch);
                }) as Box<dyn FnMut() + '_>
            })
            .collect();
        let rates = throughputs(&mut passes, case.bytes, budget, runs);
        for (&e, r) in encoders.iter().zip(rates) {
            enc_rate.insert((e, ci), r);
        }
    }
    let enc_best_peer: Vec<Option<(Encoder, f64)>> = (0..enc_cases.len())
        .map(|ci| {
            encoders
                .iter()
                .filter(|&&e| !e.is_ours() && enc_verdict[&(e, ci)].is_ok())
                .map(|&e| (e, enc_rate[&(e, ci)]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        })
        .collect();

    let best_peer: Vec<Option<(Contender, f64)>> = (0..cases.len())
        .map(|ci| {
            contenders
                .iter()
                .filter(|&&c| c.role() == Role::Peer && verdicts[&(c, ci)].is_correct())
                .map(|&c| (c, rate[&(c, ci)]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        })
        .collect();

    let mut out = String::new();
    let w = &mut out;
    let header = |w: &mut String, first: &str| {
        let _ = write!(w, "| {first} |");
        for case in &cases {
            let _ = write!(w, " {} |", case.name());
        }
        let _ = write!(w, "\n| --- |");
        for _ in &cases {
            let _ = write!(w, " ---: |");
        }
        w.push('\n');
    };

    let _ = writeln!(w, "# sse-proto benchmark report\n");
    let _ = writeln!(
        w,
        "{}, `{}` build, {} ms a measurement ({runs} interleaved runs, median), \
         MB = 10^6 bytes of input per second of {} time. Load average at the start: {}.\n",
        cpu(),
        if cfg!(debug_assertions) {
            "debug (numbers meaningless: use --release)"
        } else {
            "release"
        },
        budget.as_millis(),
        if cpu_time().is_some() {
            "on-CPU"
        } else {
            "wall-clock"
        },
        load,
    );
    let _ = writeln!(w, "| case | corpus | bytes | chunks | events |");
    let _ = writeln!(w, "| --- | --- | ---: | ---: | ---: |");
    for (ci, case) in cases.iter().enumerate() {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            case.name(),
            case.corpus.describe(),
            case.len(),
            case.chunks.len(),
            events_per_case[ci]
        );
    }

    let _ = writeln!(w, "\n## Throughput, MB/s\n");
    let _ = writeln!(
        w,
        "✗: wrong events on that case (see the correctness gate); not counted as a peer's best.\n"
    );
    header(w, "parser");
    for &c in &contenders {
        let _ = write!(w, "| {} |", c.name());
        for ci in 0..cases.len() {
            let mark = match &verdicts[&(c, ci)] {
                Verdict::Wrong(_) => " ✗",
                _ => "",
            };
            let _ = write!(w, " {}{mark} |", mbs(rate[&(c, ci)]));
        }
        w.push('\n');
    }

    let _ = writeln!(w, "\n## Events per second, millions\n");
    let _ = writeln!(
        w,
        "The same runs, counted in events dispatched (the events of the case, \
         from the table above, times passes a second): what an application \
         reading an LLM stream sees.\n"
    );
    header(w, "parser");
    for &c in contenders.iter().filter(|c| c.role() != Role::Ceiling) {
        let _ = write!(w, "| {} |", c.name());
        for (ci, case) in cases.iter().enumerate() {
            let per_sec = rate[&(c, ci)] * 1e6 / case.len() as f64 * events_per_case[ci] as f64;
            let _ = write!(w, " {:.2} |", per_sec / 1e6);
        }
        w.push('\n');
    }

    let _ = writeln!(w, "\n## Share of the memchr ceiling\n");
    header(w, "parser");
    for &c in contenders.iter().filter(|c| c.role() != Role::Ceiling) {
        let _ = write!(w, "| {} |", c.name());
        for ci in 0..cases.len() {
            let share = rate[&(c, ci)] / rate[&(Contender::Memchr, ci)];
            let _ = write!(w, " {:.1}% |", share * 100.0);
        }
        w.push('\n');
    }

    let _ = writeln!(w, "\n## Against the fastest correct peer\n");
    header(w, "parser");
    let _ = write!(w, "| *fastest correct peer* |");
    for best in &best_peer {
        match best {
            Some((c, r)) => {
                let _ = write!(w, " {} ({} MB/s) |", c.name(), mbs(*r));
            }
            None => w.push_str(" none |"),
        }
    }
    w.push('\n');
    for &c in contenders.iter().filter(|c| c.role() != Role::Ceiling) {
        let _ = write!(w, "| {} |", c.name());
        for (ci, best) in best_peer.iter().enumerate() {
            match best {
                Some((_, r)) => {
                    let _ = write!(w, " {:.2}x |", rate[&(c, ci)] / r);
                }
                None => w.push_str(" — |"),
            }
        }
        w.push('\n');
    }

    let _ = writeln!(
        w,
        "\n## Allocations per event (one pass, counted by the global allocator)\n"
    );
    header(w, "parser");
    for &c in &contenders {
        let _ = write!(w, "| {} |", c.name());
        for ci in 0..cases.len() {
            let a = allocs[&(c, ci)];
            let per = a as f64 / events_per_case[ci] as f64;
            let _ = write!(w, " {per:.3} |");
        }
        w.push('\n');
    }

    let _ = writeln!(w, "\n## Correctness gate (type, data, id of every event)\n");
    let _ = writeln!(
        w,
        "Our decoder against the reference model of the standard \
         (sse-codec-tests); every other contender against our decoder.\n"
    );
    header(w, "parser");
    let mut notes = Vec::new();
    let cell = |v: &Verdict, who: &str, case: &Case, notes: &mut Vec<String>| match v {
        Verdict::NotApplicable => "n/a".to_owned(),
        Verdict::Correct => "correct".to_owned(),
        Verdict::Wrong(why) => {
            notes.push(format!("- {who}, {}: {why}", case.name()));
            "**wrong**".to_owned()
        }
    };
    let _ = write!(w, "| sse-proto decoder vs model |");
    for (ci, case) in cases.iter().enumerate() {
        let text = cell(
            &ours_vs_model[ci],
            "sse-proto decoder vs model",
            case,
            &mut notes,
        );
        let _ = write!(w, " {text} |");
    }
    w.push('\n');
    for &c in contenders.iter().filter(|c| c.role() == Role::Peer) {
        let _ = write!(w, "| {} |", c.name());
        for (ci, case) in cases.iter().enumerate() {
            let text = cell(&verdicts[&(c, ci)], c.name(), case, &mut notes);
            let _ = write!(w, " {text} |");
        }
        w.push('\n');
    }
    if !notes.is_empty() {
        let _ = writeln!(w, "\n{}", notes.join("\n"));
    }

    let _ = writeln!(w, "\n## Encoders, MB/s of output\n");
    let _ = writeln!(
        w,
        "The events of each corpus, decoded once, written again from strings \
         (see `src/encoders.rs`). MB = 10^6 bytes of our encoding of the case, \
         the same unit for every row. *body*: the crate's `http_body::Body` \
         polled to the end. Last column group: the ratio to the fastest \
         correct peer row on that case. ✗: output that does not decode to the \
         events given.\n"
    );
    let _ = write!(w, "| encoder |");
    for case in &enc_cases {
        let _ = write!(w, " {} ({} events) |", case.name(), case.items.len());
    }
    for case in &enc_cases {
        let _ = write!(w, " {} vs peer |", case.name());
    }
    for case in &enc_cases {
        let _ = write!(w, " {} allocs/event |", case.name());
    }
    let _ = write!(w, "\n| --- |");
    for _ in 0..enc_cases.len() * 3 {
        let _ = write!(w, " ---: |");
    }
    w.push('\n');
    for &e in &encoders {
        let _ = write!(w, "| {} |", e.name());
        for ci in 0..enc_cases.len() {
            let mark = if enc_verdict[&(e, ci)].is_ok() {
                ""
            } else {
                " ✗"
            };
            let _ = write!(w, " {}{mark} |", mbs(enc_rate[&(e, ci)]));
        }
        for (ci, best) in enc_best_peer.iter().enumerate() {
            match best {
                Some((_, r)) => {
                    let _ = write!(w, " {:.2}x |", enc_rate[&(e, ci)] / r);
                }
                None => w.push_str(" — |"),
            }
        }
        for (ci, case) in enc_cases.iter().enumerate() {
            let per = enc_allocs[&(e, ci)] as f64 / case.items.len() as f64;
            let _ = write!(w, " {per:.3} |");
        }
        w.push('\n');
    }
    for ((e, ci), v) in &enc_verdict {
        if let Err(why) = v {
            let _ = writeln!(w, "\n- {}, {}: {why}", e.name(), enc_cases[*ci].name());
        }
    }

    // The targets of benches/README.md.
    let _ = writeln!(w, "\n## Targets\n");
    let _ = writeln!(w, "| target | case | measured | met |");
    let _ = writeln!(w, "| --- | --- | ---: | --- |");
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    for (ci, case) in cases.iter().enumerate() {
        let share = rate[&(Contender::Parser, ci)] / rate[&(Contender::Memchr, ci)];
        let want = match case.corpus {
            sse_benches::Corpus::SmallEvents | sse_benches::Corpus::MultiLine => Some(0.5),
            sse_benches::Corpus::LargeData => Some(0.9),
            _ => None,
        };
        if let Some(want) = want {
            let _ = writeln!(
                w,
                "| parser ≥ {:.0}% of ceiling | {} | {:.1}% | {} |",
                want * 100.0,
                case.name(),
                share * 100.0,
                yes(share >= want)
            );
        }
    }
    for (ci, case) in cases.iter().enumerate() {
        match best_peer[ci] {
            Some((_, r)) => {
                let x = rate[&(Contender::Decoder, ci)] / r;
                let _ = writeln!(
                    w,
                    "| decoder ≥ 2x fastest correct peer | {} | {x:.2}x | {} |",
                    case.name(),
                    yes(x >= 2.0)
                );
            }
            None => {
                let _ = writeln!(
                    w,
                    "| decoder ≥ 2x fastest correct peer | {} | no correct peer | — |",
                    case.name()
                );
            }
        }
    }
    // What a user reads: events as text, lent by `decode_with` and as owned
    // `Event`s. Against twice the fastest correct peer, or 60% of the
    // ceiling where twice the peer would pass it.
    for (ours, case) in [Contender::DecoderLendText, Contender::DecoderText]
        .into_iter()
        .flat_map(|c| cases.iter().enumerate().map(move |case| (c, case)))
    {
        let (ci, case) = case;
        let who = ours.name();
        let ours = rate[&(ours, ci)];
        let ceiling = 0.6 * rate[&(Contender::Memchr, ci)];
        match best_peer[ci] {
            Some((_, r)) if 2.0 * r > ceiling => {
                let _ = writeln!(
                    w,
                    "| {who} ≥ 60% of ceiling (2x peer = {} MB/s is past it) | {} | {:.1}% | {} |",
                    mbs(2.0 * r),
                    case.name(),
                    100.0 * ours / rate[&(Contender::Memchr, ci)],
                    yes(ours >= ceiling)
                );
            }
            Some((_, r)) => {
                let x = ours / r;
                let _ = writeln!(
                    w,
                    "| {who} ≥ 2x fastest correct peer | {} | {x:.2}x | {} |",
                    case.name(),
                    yes(x >= 2.0)
                );
            }
            None => {
                let _ = writeln!(
                    w,
                    "| {who} ≥ 2x fastest correct peer | {} | no correct peer | — |",
                    case.name()
                );
            }
        }
    }
    let _ = writeln!(
        w,
        "| retained decoder memory ≤ 64 KiB above the live event | one {} MiB event, 4 KiB chunks | {:.1} KiB | {} |",
        LARGE_EVENT >> 20,
        retained as f64 / 1024.0,
        yes(retained <= 64 * 1024)
    );
    let parser_allocs: u64 = (0..cases.len())
        .map(|ci| allocs[&(Contender::Parser, ci)])
        .sum();
    let _ = writeln!(
        w,
        "| parser: 0 allocations | all | {parser_allocs} | {} |",
        yes(parser_allocs == 0)
    );
    if let Some(ci) = cases.iter().position(|c| {
        c.corpus == sse_benches::Corpus::SmallEvents && c.chunking == sse_benches::corpus::FOUR_KIB
    }) {
        let per = allocs[&(Contender::Decoder, ci)] as f64 / events_per_case[ci] as f64;
        let _ = writeln!(
            w,
            "| decoder ≤ 0.1 allocations per event | {} | {per:.3} | {} |",
            cases[ci].name(),
            yes(per <= 0.1)
        );
    }
    if let Some(ci) = enc_cases
        .iter()
        .position(|c| c.corpus == sse_benches::Corpus::SmallEvents)
    {
        let r = enc_rate[&(Encoder::EncodeTo, ci)];
        let _ = writeln!(
            w,
            "| encoder ≥ 1 GB/s into a reused buffer (`encode_to`) | {} | {} MB/s | {} |",
            enc_cases[ci].name(),
            mbs(r),
            yes(r >= 1000.0)
        );
    }
    // The encoder against each peer's encoder; then like for like: our
    // owned event and our body, which copy the strings as the peers do.
    for (ci, case) in enc_cases.iter().enumerate() {
        let peers = [
            Encoder::AxumBody,
            Encoder::SseStream,
            Encoder::SseStreamBody,
        ];
        for peer in peers {
            let x = enc_rate[&(Encoder::EncodeTo, ci)] / enc_rate[&(peer, ci)];
            let _ = writeln!(
                w,
                "| {} faster than {} | {} | {x:.2}x | {} |",
                Encoder::EncodeTo.name(),
                peer.name(),
                case.name(),
                yes(x > 1.0)
            );
        }
    }
    // The server body against each peer's body, on every corpus.
    for (ci, case) in enc_cases.iter().enumerate() {
        for peer in [Encoder::SseStreamBody, Encoder::AxumBody] {
            let x = enc_rate[&(Encoder::SseCoreBody, ci)] / enc_rate[&(peer, ci)];
            let _ = writeln!(
                w,
                "| {} ≥ 1.5x {} | {} | {x:.2}x | {} |",
                Encoder::SseCoreBody.name(),
                peer.name(),
                case.name(),
                yes(x >= 1.5)
            );
        }
    }
    for (ci, case) in enc_cases.iter().enumerate() {
        for (ours, peer) in [
            (Encoder::SseCoreBody, Encoder::AxumBody),
            (Encoder::SseCoreBody, Encoder::SseStreamBody),
            (Encoder::ServerEvent, Encoder::SseStream),
        ] {
            let x = enc_rate[&(ours, ci)] / enc_rate[&(peer, ci)];
            let _ = writeln!(
                w,
                "| like for like: {} faster than {} | {} | {x:.2}x | {} |",
                ours.name(),
                peer.name(),
                case.name(),
                yes(x > 1.0)
            );
        }
    }
    let _ = writeln!(
        w,
        "\nWhole run: {:.1} s; load average at the end: {}.",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    print!("{out}");
}
