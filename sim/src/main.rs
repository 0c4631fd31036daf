//! `breaker-sim`: replay failure traces under virtual time.
//!
//! Exit status: 0 on success, 1 when `check` finds a divergence, 2 on a bad
//! trace (nothing is replayed) or a bad command line.

use std::io::Write as _;
use std::process::ExitCode;

use breaker_sim::duration::parse_duration;
use breaker_sim::fleet::options::Fleet;
use breaker_sim::fleet::summary::FleetSummariser;
use breaker_sim::generate::{Scenario, generate_into};
use breaker_sim::log;
use breaker_sim::progress::Progress;
use breaker_sim::stream::Observer;
use breaker_sim::subject::real;
use breaker_sim::summary::Summariser;
use breaker_sim::through::{CheckThrough, ReplayTo, Through};
use breaker_sim::trace::prefetch::Prefetch;
use breaker_sim::trace::reader::{Stopped, TraceReader};
use breaker_sim::trace::{Declaration, Trace};
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

/// A replay across a fleet of replicas (`run`, `check`, `tune`).
#[derive(clap::Args)]
struct FleetArgs {
    /// Replay across a fleet of N replicas of every breaker, breaker-core's
    /// breakers sharing their state through its in-memory store (the Redis
    /// store's rules), on one virtual clock: call lines go to the replicas
    /// in turn, or to the one they name (`db@2`). 1 (the default) replays
    /// each breaker alone.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    replicas: u16,
    /// With `--replicas`: how long a transition written by one replica
    /// takes to reach the others, such as `5ms` (default 0).
    #[arg(long, value_name = "DURATION")]
    link: Option<String>,
    /// With `--replicas`: cut replica R (from 1) off the store from trace
    /// time FROM to TO, such as `--partition 2 3m..4m`; it goes on locally
    /// and is reconciled when it is back. Give it again for more.
    #[arg(long, num_args = 2, value_names = ["R", "FROM..TO"])]
    partition: Vec<String>,
    /// With `--replicas`: a replica's own opening stays its own until N
    /// replicas have opened the breaker within one open period, as the
    /// Redis store's `quorum(N)` (default 1: shared at once).
    #[arg(long, value_name = "N", default_value_t = 1)]
    quorum: u32,
    /// With `--replicas`: failures in Closed are counted across the
    /// replicas, and the one that brings their sum to `fail_max` within the
    /// window (`within`, else `reset`) opens every replica, as the Redis
    /// store's `cluster_failures(true)`.
    #[arg(long)]
    cluster_failures: bool,
}

impl FleetArgs {
    /// The fleet to replay across, `None` for each breaker alone, or what
    /// is wrong with the arguments.
    fn fleet(&self) -> Result<Option<Fleet>, String> {
        let partitions: Vec<(String, String)> = self
            .partition
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
            .collect();
        if self.replicas == 1 {
            if let Some(link) = &self.link {
                return Err(format!(
                    "--link {link} needs a fleet: give --replicas N with N > 1"
                ));
            }
            if let Some((r, span)) = partitions.first() {
                return Err(format!(
                    "--partition {r} {span} needs a fleet: give --replicas N with N > 1"
                ));
            }
            if self.quorum != 1 {
                return Err(format!(
                    "--quorum {} needs a fleet: give --replicas N with N > 1",
                    self.quorum
                ));
            }
            if self.cluster_failures {
                return Err(
                    "--cluster-failures needs a fleet: give --replicas N with N > 1".to_string(),
                );
            }
            return Ok(None);
        }
        Fleet::parse(self.replicas, self.link.as_deref(), &partitions)?
            .with_quorum(self.quorum)
            .map(|fleet| Some(fleet.with_cluster_failures(self.cluster_failures)))
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
        /// The trace: one file, or several replayed one after the other as
        /// one trace (rotated files, in order); `-` is standard input; gzip
        /// and zstd files are decompressed as they are read.
        #[arg(required = true, value_name = "TRACE")]
        traces: Vec<String>,
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
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Replay traces through breaker-core and the reference model and compare every event.
    Check {
        /// The trace files, each checked on its own (`-` is standard
        /// input; gzip and zstd files are decompressed as they are read).
        #[arg(required = true)]
        traces: Vec<String>,
        /// Seeds the jitter of the retries and the drops of `adaptive`:
        /// each breaker draws its waits from its own splitmix64 generator,
        /// derived from this seed and its name.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// With `--replicas N`, the fleet's invariants are checked instead
        /// of every event against the reference model.
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Replay a trace under every configuration of a grid, or with live
    /// changes against keeping it, and rank them.
    Tune {
        /// The trace: one file, or several replayed one after the other as
        /// one trace; `-` is standard input; gzip and zstd are decompressed.
        #[arg(required = true, value_name = "TRACE")]
        traces: Vec<String>,
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
        /// Threads replaying the configurations side by side (default: the
        /// machine's cores); the trace is read once whatever their number.
        #[arg(long, short, value_name = "N")]
        jobs: Option<std::num::NonZeroUsize>,
        /// With `--replicas N` (and `--grid`), each configuration is the
        /// fleet's, scored over every replica's events.
        #[command(flatten)]
        fleet: FleetArgs,
    },
    /// Draw each breaker's states and error rate over time as an SVG timeline.
    Plot {
        /// The trace: one file or several in order; `-` is standard input
        /// (held in memory, since the plot reads the trace twice).
        #[arg(required = true, value_name = "TRACE")]
        traces: Vec<String>,
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
        /// Spread the calls over this many breakers (`dep1`, `dep2`, ...,
        /// each declared as the scenario's), in turn.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        breakers: u32,
    },
}

/// How a trace's files are named in messages: the first, `+N` more.
fn label(paths: &[String]) -> String {
    match paths {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
        [] => String::new(),
    }
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
            traces,
            events,
            via,
            seed,
            real_time,
            speed,
            fleet,
        } => match real_time_speed(via, real_time, speed).and_then(|real_time| {
            let fleet = fleet.fleet()?;
            if fleet.is_some() && (via != Via::Core || real_time.is_some()) {
                return Err(
                    "--replicas replays through breaker-core on virtual time only (--via core, without --real-time)"
                        .to_string(),
                );
            }
            Ok((real_time, fleet))
        }) {
            Ok((real_time, fleet)) => {
                let through = match (fleet, real_time, via) {
                    (Some(fleet), _, _) => Through::Fleet(fleet),
                    (None, Some(speed), _) => Through::RealTime(speed),
                    (None, None, Via::Core) => Through::Core,
                    (None, None, Via::Model) => Through::Model,
                    (None, None, Via::Attr) => Through::Attr,
                    (None, None, Via::AttrAsync) => Through::AttrAsync,
                };
                run(&traces, events.as_deref(), &through, seed, quiet)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Check {
            traces,
            seed,
            fleet,
        } => match fleet.fleet() {
            Ok(None) => check(&traces, seed, quiet),
            Ok(Some(fleet)) => check_fleet(&traces, &fleet, seed, quiet),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Plot { traces, output } => plot(&traces, &output),
        Command::Tune {
            traces,
            grid,
            change,
            breaker,
            seed,
            jobs,
            fleet,
        } => {
            let jobs = jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                |n| n.get(),
            );
            let fleet = match fleet.fleet() {
                Ok(fleet) => fleet,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            match (grid, fleet) {
                (Some(grid), fleet) => {
                    let tuning = Tuning {
                        only: breaker.as_deref(),
                        seed,
                        jobs,
                        fleet,
                    };
                    tune(&traces, &grid, &tuning, quiet)
                }
                (None, None) => {
                    let tuning = Tuning {
                        only: breaker.as_deref(),
                        seed,
                        jobs,
                        fleet: None,
                    };
                    tune_changes(&traces, &change, &tuning, quiet)
                }
                (None, Some(_)) => {
                    eprintln!(
                        "error: --change replays the trace alone; with --replicas, give --grid"
                    );
                    ExitCode::from(2)
                }
            }
        }
        Command::Gen {
            scenario,
            seed,
            duration,
            rps,
            resolution,
            breakers,
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
            let stdout = std::io::stdout().lock();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
            let written = generate_into(
                &mut out,
                scenario,
                seed,
                duration_ns,
                rps,
                resolution_ns,
                breakers,
            )
            .and_then(|()| out.flush());
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write standard output: {e}");
                    ExitCode::from(2)
                }
            }
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

/// Where the event log goes: nowhere, standard output (`-`) or a file.
fn open_log(events_to: Option<&str>) -> Result<Box<dyn std::io::Write>, ExitCode> {
    Ok(match events_to {
        None => Box::new(std::io::sink()),
        Some("-") => Box::new(std::io::stdout().lock()),
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("error: cannot write {p}: {e}");
                return Err(ExitCode::from(2));
            }
        },
    })
}

/// A log file written aside (`FILE.partial`) and put in place when the replay
/// stands, so that a bad trace leaves no log behind.
struct PendingLog {
    path: String,
    partial: String,
}

impl PendingLog {
    fn new(path: &str) -> PendingLog {
        PendingLog {
            path: path.to_string(),
            partial: format!("{path}.partial"),
        }
    }

    fn put_in_place(self) -> std::io::Result<()> {
        std::fs::rename(&self.partial, &self.path)
    }

    fn discard(self) {
        let _ = std::fs::remove_file(&self.partial);
    }
}

/// The summary a replay prints: per breaker, or per breaker and replica.
enum Summaries {
    Alone(Summariser),
    Fleet(FleetSummariser),
}

impl Summaries {
    fn add(&mut self, name: &str) {
        match self {
            Summaries::Alone(s) => s.add(name),
            Summaries::Fleet(s) => s.add(name),
        }
    }

    fn observe(&mut self, e: &log::Event) {
        match self {
            Summaries::Alone(s) => s.observe(e),
            Summaries::Fleet(s) => s.observe(e),
        }
    }

    fn text(self) -> String {
        match self {
            Summaries::Alone(s) => s.finish().iter().map(|s| s.to_text()).collect(),
            Summaries::Fleet(s) => s.finish().iter().map(|s| s.to_text()).collect(),
        }
    }
}

/// What `run` makes of the events: the log, the summary, the progress bar.
struct RunOutput<W: std::io::Write> {
    names: Vec<String>,
    summary: Summaries,
    /// The log, when asked for.
    out: Option<W>,
    line: String,
    failed: Option<std::io::Error>,
    progress: Progress,
}

impl<W: std::io::Write> RunOutput<W> {
    fn new(out: Option<W>, progress: Progress, summary: Summaries) -> Self {
        RunOutput {
            names: Vec::new(),
            summary,
            out,
            line: String::with_capacity(256),
            failed: None,
            progress,
        }
    }
}

impl<W: std::io::Write> Observer for RunOutput<W> {
    fn declared(&mut self, decl: &Declaration) {
        self.names.push(decl.name.clone());
        self.summary.add(&decl.name);
    }

    fn piece(&mut self, read: u64, total: Option<u64>) {
        self.progress.update(read, total);
    }

    fn event(&mut self, e: log::Event) {
        self.summary.observe(&e);
        if let (Some(out), None) = (self.out.as_mut(), &self.failed) {
            self.line.clear();
            e.write_json(&self.names[e.breaker], &mut self.line);
            if let Err(err) = out.write_all(self.line.as_bytes()) {
                self.failed = Some(err);
            }
        }
    }
}

fn run(
    paths: &[String],
    events_to: Option<&str>,
    through: &Through,
    seed: u64,
    quiet: bool,
) -> ExitCode {
    let replicas = match through {
        Through::Fleet(fleet) => fleet.replicas,
        _ => 1,
    };
    let reader = || TraceReader::new(paths).with_replicas(replicas);
    // TRACES.md: a bad trace is reported without replaying, and so is one
    // the mode refuses. The summary is printed at the end and a log file is
    // written aside and put in place at the end, so a refusal anywhere
    // leaves neither. A log on standard output is written as it comes, and
    // the costly modes should not run to a late refusal: files are then
    // read through a cast of their own first, which refuses all the
    // replay's cast would. Standard input cannot be read twice: a refusal
    // there stops the replay where it is (the lines before stay written).
    let files = paths.iter().all(|p| p != breaker_sim::trace::input::STDIN);
    if files && (events_to == Some("-") || through.checks_first()) {
        let checked = through.with_cast(seed, CheckThrough(&mut reader()));
        match checked.map(|done| done.output) {
            Ok(Err(stop)) if !stop.keeps_what_came_before() => {
                eprintln!("{stop}");
                return ExitCode::from(2);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let pending = events_to.filter(|p| *p != "-").map(PendingLog::new);
    let written_to = pending.as_ref().map(|p| p.partial.as_str()).or(events_to);
    let sink = match open_log(written_to) {
        Ok(sink) => sink,
        Err(code) => return code,
    };
    let out = events_to.map(|_| std::io::BufWriter::with_capacity(1 << 16, sink));
    let summary = match through {
        Through::Fleet(fleet) => Summaries::Fleet(FleetSummariser::new(fleet.replicas)),
        _ => Summaries::Alone(Summariser::new(&[])),
    };
    let mut output = RunOutput::new(out, Progress::new(quiet, &label(paths)), summary);
    let mut reader = Prefetch::start(reader());
    let done = through.with_cast(
        seed,
        ReplayTo {
            reader: &mut reader,
            observer: &mut output,
        },
    );
    let (replayed, mismatch) = match done {
        Ok(done) => (done.output, done.mismatch),
        Err(e) => {
            if let Some(pending) = pending {
                pending.discard();
            }
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    output.progress.done();
    let flushed = match output.out.take() {
        Some(mut out) => output.failed.take().map_or_else(|| out.flush(), Err),
        None => Ok(()),
    };
    let stands = replayed
        .as_ref()
        .map_or_else(Stopped::keeps_what_came_before, |()| true);
    let placed = match (flushed, pending) {
        (Ok(()), Some(pending)) if stands => pending.put_in_place(),
        (flushed, pending) => {
            if let Some(pending) = pending {
                pending.discard();
            }
            flushed
        }
    };
    if let Err(e) = placed {
        eprintln!(
            "error: cannot write {}: {e}",
            events_to.unwrap_or("the event log")
        );
        return ExitCode::from(2);
    }
    if let Some(mismatch) = mismatch {
        // The annotated functions ended a call otherwise than the trace
        // says: the log stands as what they did; no summary of it.
        if let Err(stop) = &replayed {
            eprintln!("{stop}");
        }
        eprintln!("{}: {mismatch}", label(paths));
        return ExitCode::from(2);
    }
    match replayed {
        Ok(()) => {
            print_summary(output.summary, events_to);
            ExitCode::SUCCESS
        }
        Err(stop) => {
            if stop.keeps_what_came_before() {
                print_summary(output.summary, events_to);
            }
            eprintln!("{stop}");
            ExitCode::from(2)
        }
    }
}

/// The summary per breaker; with the log on standard output, to standard error.
fn print_summary(summary: Summaries, events_to: Option<&str>) {
    let summary = summary.text();
    if events_to == Some("-") {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
}

fn check(paths: &[String], seed: u64, quiet: bool) -> ExitCode {
    // Each trace is checked as it is read; what is printed waits for the
    // last, so that a bad trace anywhere prints nothing but its error.
    let mut report = String::new();
    let mut bad = false;
    let mut cut = false;
    let mut diverged = false;
    let mut seen = std::collections::BTreeSet::new();
    for path in paths {
        let mut reader = Prefetch::start(TraceReader::new(std::slice::from_ref(path)));
        let mut progress = Progress::new(quiet, path);
        let (checked, stop) =
            breaker_sim::check::check_stream(&mut reader, seed, &mut |r, t| progress.update(r, t));
        progress.done();
        if let Some(stop) = stop {
            eprintln!("{stop}");
            if !stop.keeps_what_came_before() {
                bad = true;
                continue;
            }
            cut = true;
        }
        let list: Vec<String> = checked
            .edges
            .iter()
            .map(|(f, t)| format!("{}->{}", f.as_str(), t.as_str()))
            .collect();
        match &checked.divergence {
            None => {
                report += &format!(
                    "{path}: ok, {} events identical; edges: {}\n",
                    checked.identical,
                    list.join(" ")
                );
            }
            Some(d) => {
                diverged = true;
                report += &format!("{path}: DIVERGES from the reference model\n{d}\n");
            }
        }
        seen.extend(checked.edges);
    }
    if bad {
        return ExitCode::from(2);
    }
    let all = breaker_sim::summary::all_edges();
    let missing: Vec<String> = all
        .iter()
        .filter(|e| !seen.contains(e))
        .map(|(f, t)| format!("{}->{}", f.as_str(), t.as_str()))
        .collect();
    print!("{report}");
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
    if cut {
        ExitCode::from(2)
    } else if diverged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `check --replicas N`: each trace replayed across the fleet, its
/// invariants checked as it goes (`breaker_sim::fleet::check`).
fn check_fleet(paths: &[String], fleet: &Fleet, seed: u64, quiet: bool) -> ExitCode {
    let mut report = String::new();
    let mut bad = false;
    let mut cut = false;
    let mut violated = false;
    for path in paths {
        let reader = TraceReader::new(std::slice::from_ref(path)).with_replicas(fleet.replicas);
        let mut reader = Prefetch::start(reader);
        let mut progress = Progress::new(quiet, path);
        let (checked, stop) =
            breaker_sim::fleet::replay::check_stream(&mut reader, fleet, seed, &mut |r, t| {
                progress.update(r, t)
            });
        progress.done();
        if let Some(stop) = stop {
            eprintln!("{stop}");
            if !stop.keeps_what_came_before() {
                bad = true;
                continue;
            }
            cut = true;
        }
        match &checked.violation {
            None => report += &format!("{path}: ok, {}\n", checked.summary(fleet)),
            Some(v) => {
                violated = true;
                report += &format!("{path}: VIOLATES a fleet invariant: {v}\n");
            }
        }
    }
    if bad {
        return ExitCode::from(2);
    }
    print!("{report}");
    if cut {
        ExitCode::from(2)
    } else if violated {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// How `tune --grid` replays: which breaker, under which seed, on how many
/// threads, across which fleet.
struct Tuning<'a> {
    only: Option<&'a str>,
    seed: u64,
    jobs: usize,
    fleet: Option<Fleet>,
}

fn tune(paths: &[String], grid: &str, tuning: &Tuning<'_>, quiet: bool) -> ExitCode {
    let (only, seed, jobs) = (tuning.only, tuning.seed, tuning.jobs);
    let axes = match breaker_sim::tune::parse_grid(grid) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: bad --grid: {e}");
            return ExitCode::from(2);
        }
    };
    let combinations = breaker_sim::tune::combinations(&axes);
    let mut progress = Progress::new(quiet, &label(paths));
    let mut update = |read, total| progress.update(read, total);
    let tuned = match &tuning.fleet {
        Some(fleet) => breaker_sim::side_by_side::tune_fleet_grid(
            &mut TraceReader::new(paths).with_replicas(fleet.replicas),
            &combinations,
            only,
            seed,
            jobs,
            fleet,
            &mut update,
        ),
        None => breaker_sim::side_by_side::tune_grid(
            &mut TraceReader::new(paths),
            &combinations,
            only,
            seed,
            jobs,
            &mut update,
        ),
    };
    progress.done();
    let kept = match tuned.stop {
        Some(stop) if !stop.keeps_what_came_before() => {
            eprintln!("{stop}");
            return ExitCode::from(2);
        }
        kept => kept,
    };
    if let Some(name) = only {
        if !tuned.breakers.iter().any(|b| b == name) {
            eprintln!("error: no breaker `{name}` in {}", label(paths));
            return ExitCode::from(2);
        }
    }
    let mut rows = Vec::new();
    let mut skipped = 0;
    for (combination, score) in combinations.iter().zip(tuned.scores) {
        match score {
            Some(score) => rows.push((breaker_sim::tune::label(combination), score)),
            None => skipped += 1,
        }
    }
    breaker_sim::tune::rank(&mut rows);
    print!("{}", breaker_sim::tune::table(&rows));
    if skipped > 0 {
        println!("({skipped} invalid combinations skipped)");
    }
    match kept {
        Some(stop) => {
            eprintln!("{stop}");
            ExitCode::from(2)
        }
        None => ExitCode::SUCCESS,
    }
}

/// `tune --change`: the trace as recorded ("keep") against each change made
/// live at its time, ranked as the grid's configurations are; in one pass
/// over the trace, as the grid is.
fn tune_changes(paths: &[String], texts: &[String], tuning: &Tuning<'_>, quiet: bool) -> ExitCode {
    let mut changes = Vec::with_capacity(texts.len());
    for text in texts {
        match breaker_sim::tune::parse_change(text) {
            Ok(change) => changes.push(change),
            Err(e) => {
                eprintln!("error: bad --change `{text}`: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut progress = Progress::new(quiet, &label(paths));
    let tuned = breaker_sim::side_by_side::tune_changes(
        &mut TraceReader::new(paths),
        &changes,
        tuning.only,
        tuning.seed,
        tuning.jobs,
        &mut |read, total| progress.update(read, total),
    );
    progress.done();
    let kept = match tuned.stop {
        Some(stop) if !stop.keeps_what_came_before() => {
            eprintln!("{stop}");
            return ExitCode::from(2);
        }
        kept => kept,
    };
    if let Some(name) = tuning.only {
        if !tuned.breakers.iter().any(|b| b == name) {
            eprintln!("error: no breaker `{name}` in {}", label(paths));
            return ExitCode::from(2);
        }
    }
    // The first is the trace as recorded, then the changes in order.
    let labels = std::iter::once("keep".to_string()).chain(changes.iter().map(|c| c.label()));
    let texts = std::iter::once("").chain(texts.iter().map(String::as_str));
    let mut rows = Vec::new();
    for ((label, text), (score, refused)) in labels
        .zip(texts)
        .zip(tuned.scores.into_iter().zip(tuned.refused))
    {
        match (score, refused) {
            (Some(score), _) => rows.push((label, score)),
            (None, why) => {
                let why = why.unwrap_or_else(|| "refused".to_string());
                match text {
                    // The trace as recorded: its own error.
                    "" => eprintln!("{why}"),
                    _ => eprintln!("error: bad --change `{text}`: {why}"),
                }
                return ExitCode::from(2);
            }
        }
    }
    breaker_sim::tune::rank(&mut rows);
    print!("{}", breaker_sim::tune::table(&rows));
    match kept {
        Some(stop) => {
            eprintln!("{stop}");
            ExitCode::from(2)
        }
        None => ExitCode::SUCCESS,
    }
}

fn plot(paths: &[String], output: &str) -> ExitCode {
    let drawn = if paths.iter().any(|p| p == breaker_sim::trace::input::STDIN) {
        // Standard input cannot be read twice: copied to a file, it is read
        // twice from there; held in memory only if it cannot be copied.
        match breaker_sim::trace::input::Spool::stdin() {
            Ok(spool) => plot_streamed(paths, Some(spool.path())),
            Err(e) => {
                eprintln!(
                    "warning: cannot copy standard input to a file ({e}); holding it in memory"
                );
                plot_held(paths)
            }
        }
    } else {
        plot_streamed(paths, None)
    };
    match drawn {
        Ok((svg, kept)) => {
            let code = write_out(Some(output), &svg);
            match kept {
                Some(stop) => {
                    eprintln!("{stop}");
                    ExitCode::from(2)
                }
                None => code,
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// The plot of files: one replay finds the axis (the last event's time),
/// a second draws, each reading the trace as a stream (standard input from
/// its copy, `stdin`). A last line cut short comes back beside the plot of
/// what came before it.
fn plot_streamed(
    paths: &[String],
    stdin: Option<&str>,
) -> Result<(String, Option<Stopped>), String> {
    let reader = || match stdin {
        Some(copy) => TraceReader::new(paths).with_stdin_from(copy),
        None => TraceReader::new(paths),
    };
    let mut axis = breaker_sim::plot::Axis::default();
    let arena = typed_arena::Arena::new();
    let first = breaker_sim::stream::replay(&mut reader(), real::Cores::new(&arena, 0), &mut axis);
    if let Err(stop) = &first {
        if !stop.keeps_what_came_before() {
            return Err(stop.to_string());
        }
    }
    let mut timelines = breaker_sim::plot::Timelines::new(axis.end_ns);
    let arena = typed_arena::Arena::new();
    let second =
        breaker_sim::stream::replay(&mut reader(), real::Cores::new(&arena, 0), &mut timelines);
    let svg = timelines.svg().map_err(|e| format!("error: {e}"))?;
    Ok((svg, second.err()))
}

/// The plot of a trace read from standard input that could not be copied
/// to a file: held in memory, replayed once.
fn plot_held(paths: &[String]) -> Result<(String, Option<Stopped>), String> {
    let trace = TraceReader::new(paths)
        .read_all()
        .map_err(|e| e.to_string())?;
    let events = real::replay(&label(paths), &trace).map_err(|e| e.to_string())?;
    let svg = breaker_sim::plot::svg(&events, &names(&trace)).map_err(|e| format!("error: {e}"))?;
    Ok((svg, None))
}
