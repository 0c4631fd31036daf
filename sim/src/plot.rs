//! `breaker-sim plot`: a timeline of each breaker, drawn with plotters' SVG
//! backend.
//!
//! One panel per breaker over virtual time: a strip coloured by state along
//! the top (the same colours shade the panel faintly), the error rate of the
//! calls that ended in each slice of time as a line, a thin black line at
//! every transition, each opening labelled with its time and reason, and a
//! legend of the states present and the error rate.
//!
//! ```
//! let trace = breaker_sim::trace::parse("t", "breaker a fail_max=1 reset=1s\n0s a err\n2s a ok\n").unwrap();
//! let svg = breaker_sim::plot::svg(&breaker_sim::model::replay(&trace), &["a".to_string()]).unwrap();
//! assert!(svg.contains("opened at 0s: 1 consecutive failure"));
//! ```

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::duration::format_duration;
use crate::log::{Event, EventKind, State};

const WIDTH: u32 = 1000;
const PANEL: u32 = 260;
/// The error rate runs from 0 to 100; the state strip sits above it.
const STRIP: (f64, f64) = (104.0, 120.0);
const BUCKETS: usize = 100;
/// The width right of each plot, where its legend stands.
const LEGEND: u32 = 130;
/// Openings labelled with their reason per breaker; more would overlap.
const LABELS: usize = 6;

fn colour(state: State) -> RGBColor {
    match state {
        State::Closed => RGBColor(0x4c, 0xaf, 0x50),
        State::Open => RGBColor(0xe5, 0x39, 0x35),
        State::HalfOpen => RGBColor(0xff, 0xb3, 0x00),
        State::ForcedOpen => RGBColor(0x8e, 0x24, 0xaa),
        State::Disabled => RGBColor(0x9e, 0x9e, 0x9e),
        State::MetricsOnly => RGBColor(0x90, 0xa4, 0xae),
    }
}

const RATE: RGBColor = RGBColor(0x15, 0x65, 0xc0);
/// Transition lines: near black, apart from the axes.
const MARK: RGBColor = RGBColor(0x21, 0x21, 0x21);

/// A transition as the plot shows it.
struct Mark {
    t_ns: u64,
    to: State,
    reason: String,
}

/// What one breaker's panel shows, taken from the log.
struct Timeline {
    /// (from, to, state), covering 0 to the log's end.
    bands: Vec<(u64, u64, State)>,
    marks: Vec<Mark>,
    /// Runs of consecutive slices of time where calls ended: each slice as
    /// (start in ns, end in ns, error rate in percent).
    rate: Vec<Vec<(u64, u64, f64)>>,
}

/// One breaker's timeline as its events come.
struct Drawing {
    bands: Vec<(u64, u64, State)>,
    marks: Vec<Mark>,
    state: State,
    since: u64,
    ended: [u64; BUCKETS],
    failed: [u64; BUCKETS],
}

impl Drawing {
    fn new() -> Drawing {
        Drawing {
            bands: Vec::new(),
            marks: Vec::new(),
            state: State::Closed,
            since: 0,
            ended: [0; BUCKETS],
            failed: [0; BUCKETS],
        }
    }

    fn observe(&mut self, e: &Event, end_ns: u64) {
        match &e.kind {
            EventKind::Transition {
                to,
                reason,
                dry_run: false,
                ..
            } => {
                self.bands.push((self.since, e.t_ns, self.state));
                self.marks.push(Mark {
                    t_ns: e.t_ns,
                    to: *to,
                    reason: reason.clone(),
                });
                (self.state, self.since) = (*to, e.t_ns);
            }
            EventKind::Ended { outcome, .. } => {
                let i = bucket(e.t_ns, end_ns);
                self.ended[i] += 1;
                self.failed[i] += u64::from(outcome.is_failure());
            }
            _ => {}
        }
    }

    fn finish(mut self, end_ns: u64) -> Timeline {
        self.bands.push((self.since, end_ns, self.state));
        // A slice where no call ended has no rate: the line breaks there
        // rather than drawing a slope across an Open period.
        let mut rate: Vec<Vec<(u64, u64, f64)>> = Vec::new();
        let mut run = Vec::new();
        for i in 0..BUCKETS {
            if self.ended[i] == 0 {
                if !run.is_empty() {
                    rate.push(std::mem::take(&mut run));
                }
                continue;
            }
            let from = (u128::from(end_ns) * i as u128 / BUCKETS as u128) as u64;
            let to = (u128::from(end_ns) * (i as u128 + 1) / BUCKETS as u128) as u64;
            run.push((
                from,
                to,
                100.0 * self.failed[i] as f64 / self.ended[i] as f64,
            ));
        }
        if !run.is_empty() {
            rate.push(run);
        }
        Timeline {
            bands: self.bands,
            marks: self.marks,
            rate,
        }
    }
}

/// The timelines of a replay drawn as its events come, once the time of
/// its last event (`end_ns`, the axis) is known: a first replay finds it,
/// a second draws. What is held is a fixed number of slices per breaker,
/// and its transitions, each of which the plot draws.
pub struct Timelines {
    end_ns: u64,
    names: Vec<String>,
    drawings: Vec<Drawing>,
}

impl Timelines {
    /// Timelines running from 0 to `end_ns`, with no breaker yet.
    pub fn new(end_ns: u64) -> Timelines {
        Timelines {
            end_ns: end_ns.max(1),
            names: Vec::new(),
            drawings: Vec::new(),
        }
    }

    /// Adds breaker `name`, the next index of events' `breaker`.
    pub fn add(&mut self, name: &str) {
        self.names.push(name.to_string());
        self.drawings.push(Drawing::new());
    }

    /// Takes one event into account.
    pub fn observe(&mut self, e: &Event) {
        if let Some(d) = self.drawings.get_mut(e.breaker) {
            d.observe(e, self.end_ns);
        }
    }

    /// Draws the timelines as an SVG document.
    pub fn svg(self) -> Result<String, String> {
        let end_ns = self.end_ns;
        let timelines: Vec<Timeline> = self
            .drawings
            .into_iter()
            .map(|d| d.finish(end_ns))
            .collect();
        draw(&timelines, &self.names, end_ns)
    }
}

impl crate::stream::Observer for Timelines {
    fn declared(&mut self, decl: &crate::trace::Declaration) {
        self.add(&decl.name);
    }

    fn event(&mut self, e: Event) {
        self.observe(&e);
    }
}

/// The time of a replay's last event, the plot's axis, as its events come.
#[derive(Debug, Default)]
pub struct Axis {
    /// The latest time seen, in ns.
    pub end_ns: u64,
}

impl crate::stream::Observer for Axis {
    fn event(&mut self, e: Event) {
        self.end_ns = self.end_ns.max(e.t_ns);
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn more(n: usize) -> String {
    format!(
        "and {n} more {}",
        if n == 1 { "opening" } else { "openings" }
    )
}

fn bucket(t_ns: u64, end_ns: u64) -> usize {
    ((u128::from(t_ns) * BUCKETS as u128 / (u128::from(end_ns) + 1)) as usize).min(BUCKETS - 1)
}

/// Virtual time as the x coordinate, in seconds.
fn seconds(t_ns: u64) -> f64 {
    t_ns as f64 / 1e9
}

/// Why plotters could not draw (it does not happen with an in-memory SVG,
/// but is reported rather than unwrapped).
fn drawing<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    format!("cannot draw the timeline: {e}")
}

/// Draws the timeline of a replay's events as an SVG document; `names` are
/// the breakers' names by index.
pub fn svg(events: &[Event], names: &[String]) -> Result<String, String> {
    let mut timelines = Timelines::new(events.iter().map(|e| e.t_ns).max().unwrap_or(0));
    for name in names {
        timelines.add(name);
    }
    for e in events {
        timelines.observe(e);
    }
    timelines.svg()
}

fn draw(timelines: &[Timeline], names: &[String], end_ns: u64) -> Result<String, String> {
    let height = 40 + PANEL * names.len().max(1) as u32;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let body = root
            .titled(
                "breaker-sim: state and error rate over virtual time",
                ("sans-serif", 20),
            )
            .map_err(drawing)?;
        let panels = body.split_evenly((names.len().max(1), 1));
        for (b, (name, area)) in names.iter().zip(&panels).enumerate() {
            if let Some(timeline) = timelines.get(b) {
                panel(area, name, timeline, end_ns)?;
            }
        }
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

/// The legend of a panel: the states it shows, the error rate, transitions.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    timeline: &Timeline,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 12);
    let mut y = 40;
    for state in State::ALL {
        if !timeline.bands.iter().any(|b| b.2 == state && b.1 > b.0) {
            continue;
        }
        area.draw(&Rectangle::new(
            [(8, y), (22, y + 10)],
            colour(state).filled(),
        ))
        .map_err(drawing)?;
        area.draw(&Text::new(state.as_str(), (28, y - 1), font))
            .map_err(drawing)?;
        y += 18;
    }
    area.draw(&PathElement::new(
        vec![(8, y + 5), (22, y + 5)],
        RATE.stroke_width(2),
    ))
    .map_err(drawing)?;
    area.draw(&Text::new("error rate", (28, y - 1), font))
        .map_err(drawing)?;
    y += 18;
    area.draw(&PathElement::new(
        vec![(15, y), (15, y + 10)],
        MARK.stroke_width(1),
    ))
    .map_err(drawing)?;
    area.draw(&Text::new("transition", (28, y - 1), font))
        .map_err(drawing)?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    name: &str,
    timeline: &Timeline,
    end_ns: u64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let openings = timeline
        .marks
        .iter()
        .filter(|m| matches!(m.to, State::Open | State::ForcedOpen))
        .count();
    let caption = format!(
        "{name}: {}, {}",
        plural(timeline.marks.len(), "transition"),
        plural(openings, "opening")
    );
    let (plot, key) = area.split_horizontally(WIDTH - LEGEND);
    legend(&key, timeline)?;
    let mut chart = ChartBuilder::on(&plot)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..seconds(end_ns), 0.0..STRIP.1)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(6)
        .x_label_formatter(&|s| format_duration((s * 1e9).round() as u64))
        .y_labels(7)
        .y_label_formatter(&|v| {
            if *v <= 100.0 {
                format!("{v:.0}%")
            } else {
                String::new()
            }
        })
        .y_desc("error rate")
        .draw()
        .map_err(drawing)?;

    for state in State::ALL {
        let spans: Vec<(f64, f64)> = timeline
            .bands
            .iter()
            .filter(|(from, to, s)| *s == state && to > from)
            .map(|(from, to, _)| (seconds(*from), seconds(*to)))
            .collect();
        if spans.is_empty() {
            continue;
        }
        let c = colour(state);
        let shades = spans
            .iter()
            .map(move |&(x0, x1)| Rectangle::new([(x0, 0.0), (x1, 100.0)], c.mix(0.12).filled()));
        chart.draw_series(shades).map_err(drawing)?;
        let strips = spans
            .iter()
            .map(move |&(x0, x1)| Rectangle::new([(x0, STRIP.0), (x1, STRIP.1)], c.filled()));
        chart.draw_series(strips).map_err(drawing)?;
    }

    // The rate is a step per slice of time, one line per run of slices.
    for run in &timeline.rate {
        let steps = run
            .iter()
            .flat_map(|&(from, to, r)| [(seconds(from), r), (seconds(to), r)]);
        chart
            .draw_series(LineSeries::new(steps, RATE.stroke_width(2)))
            .map_err(drawing)?;
    }

    chart
        .draw_series(timeline.marks.iter().map(|m| {
            let x = seconds(m.t_ns);
            PathElement::new(vec![(x, 0.0), (x, STRIP.1)], MARK.stroke_width(1))
        }))
        .map_err(drawing)?;

    // Why it opened: the first few openings carry their time and reason,
    // stacked so that close ones stay legible.
    let opened = timeline
        .marks
        .iter()
        .filter(|m| matches!(m.to, State::Open | State::ForcedOpen));
    let labels = opened.take(LABELS).enumerate().map(|(k, m)| {
        let verb = if m.to == State::Open {
            "opened"
        } else {
            "forced open"
        };
        // A label in the right half ends at its line, so it stays in the plot.
        let anchor = if m.t_ns > end_ns / 2 {
            HPos::Right
        } else {
            HPos::Left
        };
        Text::new(
            format!("{verb} at {}: {}", format_duration(m.t_ns), m.reason),
            (seconds(m.t_ns), 96.0 - 11.0 * k as f64),
            ("sans-serif", 12)
                .into_font()
                .into_text_style(&plot)
                .pos(Pos::new(anchor, VPos::Top)),
        )
    });
    chart.draw_series(labels).map_err(drawing)?;
    if openings > LABELS {
        chart
            .draw_series(std::iter::once(Text::new(
                more(openings - LABELS),
                (0.0, 96.0 - 11.0 * LABELS as f64),
                ("sans-serif", 12),
            )))
            .map_err(drawing)?;
    }

    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Timeline {
        /// One breaker's timeline from a whole log.
        fn of(events: &[Event], breaker: usize, end_ns: u64) -> Timeline {
            let mut d = Drawing::new();
            for e in events.iter().filter(|e| e.breaker == breaker) {
                d.observe(e, end_ns);
            }
            d.finish(end_ns)
        }
    }

    #[test]
    fn names_with_markup_are_refused_before_any_plot() {
        let trace = crate::trace::parse(
            "t",
            "breaker a<b fail_max=1 reset=1s\n0s a<b ok\n1s a<b err\n3s a<b ok\n",
        );
        assert!(trace.is_err());
    }

    #[test]
    fn buckets_cover_the_whole_log() {
        assert_eq!(bucket(0, 1), 0);
        assert_eq!(bucket(1, 1), BUCKETS / 2);
        assert_eq!(bucket(u64::MAX, u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_timeline_has_a_band_per_period() {
        let trace = crate::trace::parse(
            "t",
            "breaker a fail_max=1 reset=1s\n0s a ok\n1s a err\n3s a ok\n",
        )
        .unwrap();
        let events = crate::model::replay(&trace);
        let t = Timeline::of(&events, 0, 3_000_000_000);
        let states: Vec<State> = t.bands.iter().map(|b| b.2).collect();
        // The trial at 3s is the first of two: still half open.
        assert_eq!(states, [State::Closed, State::Open, State::HalfOpen]);
        assert_eq!(t.marks[0].reason, "1 consecutive failure");
    }
}
