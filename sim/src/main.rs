//! `breaker-sim`: replay failure traces under virtual time.
//!
//! Exit status: 0 on success, 1 when `check` finds a divergence, 2 on a bad
//! trace (nothing is replayed) or a bad command line.

use std::io::Write as _;
use std::process::ExitCode;

use breaker_sim::check::Checker;
use breaker_sim::duration::parse_duration;
use breaker_sim::engine::replay_into;
use breaker_sim::generate::{Scenario, generate_with};
use breaker_sim::subject::real;
use breaker_sim::summary::{Summariser, all_edges, edges};
use breaker_sim::trace::{Trace, read};
use breaker_sim::{log, model};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "breaker-sim",
    version,
    about = "Replays circuit-breaker failure traces under virtual time"
)]
struct Cli {
    /// No progress line on standard error.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// A progress bar (indicatif) on standard error for replays longer than a
/// second; progress is virtual time over the trace's end. indicatif draws
/// nothing when standard error is not a terminal.
struct Progress {
    enabled: bool,
    started: std::time::Instant,
    end_ns: u64,
    label: String,
    count: u32,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(quiet: bool, label: &str, trace: &Trace) -> Progress {
        Progress {
            enabled: !quiet,
            started: std::time::Instant::now(),
            end_ns: trace.lines.last().map_or(0, |l| l.t_ns).max(1),
            label: label.to_string(),
            count: 0,
            bar: None,
        }
    }

    fn tick(&mut self, t_ns: u64) {
        self.count = self.count.wrapping_add(1);
        // Looking at the clock every 64k events keeps the replay fast.
        if !self.enabled || self.count % 65_536 != 0 {
            return;
        }
        if self.bar.is_none() && self.started.elapsed().as_secs() >= 1 {
            let bar = indicatif::ProgressBar::new(self.end_ns);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {percent:>3}% (eta {eta})",
            ) {
                bar.set_style(style.progress_chars("#>-"));
            }
            bar.set_message(self.label.clone());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(t_ns.min(self.end_ns));
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Via {
    Core,
    Model,
    Attr,
    AttrAsync,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a trace through breaker-core: write the event log, print a summary per breaker.
    Run {
        /// The trace file.
        trace: String,
        /// Where to write the JSON Lines event log (`-` for standard output).
        #[arg(long, value_name = "FILE|-")]
        events: Option<String>,
        /// What to replay through: breaker-core's `Breaker` (core), the
        /// reference model (model), the sync `#[circuit_breaker]` functions
        /// of the shipped traces (attr), or async ones under tokio's paused
        /// clock (attr-async: the shipped traces' and `gen`'s configurations,
        /// calls that sleep ending on whole milliseconds).
        #[arg(long, value_enum, default_value_t = Via::Core)]
        via: Via,
        /// Seeds the jitter of the retries and the drops of `adaptive`:
        /// each breaker draws its waits from its own splitmix64 generator,
        /// derived from this seed and its name.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Replay through breaker-core on the real clock (with `--via core`
        /// only): each step waits for its wall-clock instant, and the log
        /// carries the times the breaker reported.
        #[arg(long)]
        real_time: bool,
        /// With `--real-time`: replay this many times faster than the trace
        /// (a step at trace time t comes t / F after the start; the
        /// configuration's durations are divided by F). Default 1.
        #[arg(long, value_name = "F")]
        speed: Option<f64>,
    },
    /// Replay traces through breaker-core and the reference model and compare every event.
    Check {
        /// The trace files.
        #[arg(required = true)]
        traces: Vec<String>,
        /// Seeds the jitter of the retries and the drops of `adaptive`:
        /// each breaker draws its waits from its own splitmix64 generator,
        /// derived from this seed and its name.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Replay a trace under every configuration of a grid, or with live
    /// changes against keeping it, and rank them.
    Tune {
        /// The trace file.
        trace: String,
        /// The grid, such as "fail_max=3..10 reset=5s,30s,60s" (ranges are
        /// inclusive; the value `none` leaves a key unset, as in
        /// "ramp=none,30s"); the axis `policy` takes whole policies separated by
        /// `|`, such as "policy=fail_max=5|failure_rate=50,window=10s|adaptive=1.5".
        #[arg(long, required_unless_present = "change")]
        grid: Option<String>,
        /// A live change to compare against keeping the configuration, such
        /// as "at=3m fail_max=10 reset=1m": a `configure` line of those keys
        /// at that time of the trace. Give it again for more candidates.
        #[arg(long, value_name = "at=T KEY=VALUE ...", conflicts_with = "grid")]
        change: Vec<String>,
        /// Apply the grid to this breaker only (default: every breaker of the trace).
        #[arg(long)]
        breaker: Option<String>,
        /// Seeds the jitter of the retries and the drops of `adaptive`: each
        /// breaker draws from its own splitmix64 generators, derived from
        /// this seed and its name.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Draw each breaker's states and error rate over time as an SVG timeline.
    Plot {
        /// The trace file.
        trace: String,
        /// Where to write the SVG.
        #[arg(short, long, default_value = "timeline.svg")]
        output: String,
    },
    /// Write a seeded, deterministic trace of a realistic incident to standard output.
    Gen {
        /// outage, flapping, brownout, slow, recovery-storm or fragile-recovery.
        #[arg(long)]
        scenario: String,
        /// The seed: the same seed gives the same trace.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How long the trace lasts (such as `10m`).
        #[arg(long, default_value = "10m")]
        duration: String,
        /// Calls per second.
        #[arg(long, default_value_t = 20)]
        rps: u32,
        /// Times and latencies are multiples of this (`1ms` suits the
        /// attr-async mode, whose tokio timers fire on whole milliseconds).
        #[arg(long, default_value = "1us")]
        resolution: String,
    },
}

fn load(path: &str) -> Result<Trace, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("{path}: cannot read the trace: {e}"))?;
    read(path, file).map_err(|e| e.to_string())
}

fn names(trace: &Trace) -> Vec<String> {
    trace.breakers.iter().map(|b| b.name.clone()).collect()
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a closed pipe (`| head`) turns every later
    // write into a panic; a command-line tool should end quietly instead.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default at start-up,
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let quiet = cli.quiet;
    match cli.command {
        Command::Run {
            trace,
            events,
            via,
            seed,
            real_time,
            speed,
        } => match real_time_speed(via, real_time, speed) {
            Ok(real_time) => run(&trace, events.as_deref(), via, seed, real_time, quiet),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Check { traces, seed } => check(&traces, seed, quiet),
        Command::Plot { trace, output } => plot(&trace, &output),
        Command::Tune {
            trace,
            grid,
            change,
            breaker,
            seed,
        } => match grid {
            Some(grid) => tune(&trace, &grid, breaker.as_deref(), seed),
            None => tune_changes(&trace, &change, breaker.as_deref(), seed),
        },
        Command::Gen {
            scenario,
            seed,
            duration,
            rps,
            resolution,
        } => {
            let Some(scenario) = Scenario::from_name(&scenario) else {
                eprintln!(
                    "error: unknown scenario `{scenario}`; expected one of {}",
                    Scenario::NAMES.join(", ")
                );
                return ExitCode::from(2);
            };
            let duration_ns = match parse_duration(&duration) {
                Ok(d) if d > 0 => d,
                Ok(_) => {
                    eprintln!("error: --duration must be > 0");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: bad --duration: {}", e.message);
                    return ExitCode::from(2);
                }
            };
            if rps == 0 {
                eprintln!("error: --rps must be >= 1");
                return ExitCode::from(2);
            }
            let resolution_ns = match parse_duration(&resolution) {
                Ok(d) if d > 0 => d,
                Ok(_) => {
                    eprintln!("error: --resolution must be > 0");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: bad --resolution: {}", e.message);
                    return ExitCode::from(2);
                }
            };
            let text = generate_with(scenario, seed, duration_ns, rps, resolution_ns);
            write_out(None, &text)
        }
    }
}

fn write_out(path: Option<&str>, text: &str) -> ExitCode {
    let result = match path {
        None | Some("-") => std::io::stdout().lock().write_all(text.as_bytes()),
        Some(p) => std::fs::write(p, text),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: cannot write {}: {e}",
                path.unwrap_or("standard output")
            );
            ExitCode::from(2)
        }
    }
}

/// The speed of a real-time replay (`None`: virtual time), or why the flags
/// do not go together.
fn real_time_speed(via: Via, real_time: bool, speed: Option<f64>) -> Result<Option<f64>, String> {
    if !real_time {
        return match speed {
            Some(_) => Err("--speed needs --real-time".to_string()),
            None => Ok(None),
        };
    }
    if via != Via::Core {
        let name = clap::ValueEnum::to_possible_value(&via)
            .map_or_else(String::new, |v| v.get_name().to_string());
        return Err(format!(
            "--real-time replays through breaker-core only (--via core), not --via {name}"
        ));
    }
    let speed = speed.unwrap_or(1.0);
    breaker_sim::subject::realtime::Pace::check(speed)?;
    Ok(Some(speed))
}

fn run(
    path: &str,
    events_to: Option<&str>,
    via: Via,
    seed: u64,
    real_time: Option<f64>,
    quiet: bool,
) -> ExitCode {
    let trace = match load(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let breakers = if via == Via::Core && real_time.is_none() {
        match real::RealBreaker::for_trace_seeded(path, &trace, seed) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Vec::new()
    };
    let mut annotated = if via == Via::Attr {
        match breaker_sim::subject::attr::sync::AttrSubject::for_trace(path, &trace) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Vec::new()
    };
    if via == Via::AttrAsync {
        if let Err(e) = breaker_sim::subject::attr::asynchronous::check(path, &trace) {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    let mut out: Box<dyn std::io::Write> = match events_to {
        None => Box::new(std::io::sink()),
        Some("-") => Box::new(std::io::stdout().lock()),
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("error: cannot write {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut out);
    let names = names(&trace);
    let mut summary = Summariser::new(&names);
    let mut line = String::with_capacity(256);
    let mut failed: Option<std::io::Error> = None;
    let mut progress = Progress::new(quiet, path, &trace);
    let mut sink = |e: log::Event| {
        progress.tick(e.t_ns);
        summary.observe(&e);
        if events_to.is_some() && failed.is_none() {
            line.clear();
            e.write_json(&names[e.breaker], &mut line);
            if let Err(err) = out.write_all(line.as_bytes()) {
                failed = Some(err);
            }
        }
    };
    // A refusal of the replay itself (reported after the log is flushed).
    let mut refused: Option<String> = None;
    if let Some(speed) = real_time {
        // The breakers are built, or refused, before the first event.
        if let Err(e) =
            breaker_sim::subject::realtime::replay_into(path, &trace, seed, speed, &mut sink)
        {
            refused = Some(e);
        }
    } else if via == Via::AttrAsync {
        // Refusals come before any event (the trace is matched and checked
        // first); a call that ended otherwise than the trace says, after.
        match breaker_sim::subject::attr::asynchronous::AsyncReplay::new() {
            Ok(replay) => {
                if let Err(e) = replay.replay_into(path, &trace, &mut sink) {
                    refused = Some(e);
                }
            }
            Err(e) => refused = Some(format!("cannot start a tokio runtime: {e}")),
        }
    } else if via == Via::Model {
        let mut models = model::for_trace(&trace, seed);
        replay_into(&trace, &mut models, &mut sink);
    } else if via == Via::Attr {
        replay_into(&trace, &mut annotated, &mut sink);
    } else {
        let mut subjects: Vec<real::RealSubject<'_>> =
            breakers.iter().map(real::RealBreaker::subject).collect();
        replay_into(&trace, &mut subjects, &mut sink);
    }
    if let Some(e) = refused {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if let Some(e) = failed.or_else(|| out.flush().err()) {
        eprintln!(
            "error: cannot write {}: {e}",
            events_to.unwrap_or("the event log")
        );
        return ExitCode::from(2);
    }
    drop(out);
    progress.done();
    let summary: String = summary.finish().iter().map(|s| s.to_text()).collect();
    // With the log on standard output, the summary goes to standard error.
    if events_to == Some("-") {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    ExitCode::SUCCESS
}

fn check(paths: &[String], seed: u64, quiet: bool) -> ExitCode {
    let mut traces = Vec::new();
    let mut bad = false;
    for path in paths {
        match load(path).and_then(|t| {
            real::RealBreaker::for_trace(path, &t)
                .map(|_| t)
                .map_err(|e| e.to_string())
        }) {
            Ok(t) => traces.push((path, t)),
            Err(e) => {
                eprintln!("{e}");
                bad = true;
            }
        }
    }
    if bad {
        return ExitCode::from(2);
    }
    let mut diverged = false;
    let mut seen = std::collections::BTreeSet::new();
    for (path, trace) in &traces {
        let names = names(trace);
        let expected = model::replay_seeded(trace, seed);
        let breakers = match real::RealBreaker::for_trace_seeded(path, trace, seed) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let mut subjects: Vec<real::RealSubject<'_>> =
            breakers.iter().map(real::RealBreaker::subject).collect();
        let mut checker = Checker::new(&expected, &names);
        let mut progress = Progress::new(quiet, path, trace);
        replay_into(trace, &mut subjects, &mut |e| {
            progress.tick(e.t_ns);
            checker.observe(&e);
        });
        progress.done();
        let exercised = edges(&expected);
        let list: Vec<String> = exercised
            .iter()
            .map(|(f, t)| format!("{}->{}", f.as_str(), t.as_str()))
            .collect();
        match checker.finish() {
            None => println!(
                "{path}: ok, {} events identical; edges: {}",
                expected.len(),
                list.join(" ")
            ),
            Some(d) => {
                diverged = true;
                println!("{path}: DIVERGES from the reference model\n{d}");
            }
        }
        seen.extend(exercised);
    }
    let all = all_edges();
    let missing: Vec<String> = all
        .iter()
        .filter(|e| !seen.contains(e))
        .map(|(f, t)| format!("{}->{}", f.as_str(), t.as_str()))
        .collect();
    println!(
        "transition edges exercised: {} of {}{}",
        all.iter().filter(|e| seen.contains(e)).count(),
        all.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!(" (not exercised: {})", missing.join(" "))
        }
    );
    if diverged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn tune(path: &str, grid: &str, only: Option<&str>, seed: u64) -> ExitCode {
    let trace = match load(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let axes = match breaker_sim::tune::parse_grid(grid) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: bad --grid: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(name) = only {
        if !trace.breakers.iter().any(|b| b.name == name) {
            eprintln!("error: no breaker `{name}` in {path}");
            return ExitCode::from(2);
        }
    }
    let mut rows = Vec::new();
    let mut skipped = 0;
    for combo in breaker_sim::tune::combinations(&axes) {
        let label = breaker_sim::tune::label(&combo);
        let mut variant = trace.clone();
        let mut valid = true;
        for decl in &mut variant.breakers {
            if only.is_some_and(|n| n != decl.name) {
                continue;
            }
            match breaker_sim::tune::with_overrides(&decl.config, &combo) {
                Ok(c) => decl.config = c,
                Err(_) => valid = false,
            }
        }
        let events = match valid.then(|| real::replay_seeded(path, &variant, seed)) {
            Some(Ok(events)) => events,
            _ => {
                skipped += 1;
                continue;
            }
        };
        rows.push((label, breaker_sim::tune::score(&variant, &events)));
    }
    breaker_sim::tune::rank(&mut rows);
    print!("{}", breaker_sim::tune::table(&rows));
    if skipped > 0 {
        println!("({skipped} invalid combinations skipped)");
    }
    ExitCode::SUCCESS
}

/// `tune --change`: the trace as recorded ("keep") against each change made
/// live at its time, ranked as the grid's configurations are.
fn tune_changes(path: &str, changes: &[String], only: Option<&str>, seed: u64) -> ExitCode {
    let trace = match load(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(name) = only {
        if !trace.breakers.iter().any(|b| b.name == name) {
            eprintln!("error: no breaker `{name}` in {path}");
            return ExitCode::from(2);
        }
    }
    let mut variants = vec![("keep".to_string(), trace.clone())];
    for text in changes {
        let variant = breaker_sim::tune::parse_change(text).and_then(|change| {
            breaker_sim::tune::with_change(&trace, &change, only).map(|t| (change.label(), t))
        });
        match variant {
            Ok(v) => variants.push(v),
            Err(e) => {
                eprintln!("error: bad --change `{text}`: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut rows = Vec::new();
    for (label, variant) in &variants {
        match real::replay_seeded(path, variant, seed) {
            Ok(events) => rows.push((label.clone(), breaker_sim::tune::score(variant, &events))),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    breaker_sim::tune::rank(&mut rows);
    print!("{}", breaker_sim::tune::table(&rows));
    ExitCode::SUCCESS
}

fn plot(path: &str, output: &str) -> ExitCode {
    let trace = match load(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let events = match real::replay(path, &trace) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match breaker_sim::plot::svg(&events, &names(&trace)) {
        Ok(svg) => write_out(Some(output), &svg),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
