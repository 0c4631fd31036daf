//! `breaker-sim plot`: a timeline of each breaker as a self-contained SVG.
//!
//! Per breaker, a band coloured by state (hover a transition for its reason)
//! and, under it, the error rate of the calls that ended in each slice of time.

use std::fmt::Write as _;

use crate::duration::format_duration;
use crate::log::{Event, EventKind, State};

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 20.0;
const BAND: f64 = 24.0;
const CHART: f64 = 50.0;
const GAP: f64 = 30.0;
const TOP: f64 = 40.0;
const BUCKETS: usize = 100;

fn colour(state: State) -> &'static str {
    match state {
        State::Closed => "#4caf50",
        State::Open => "#e53935",
        State::HalfOpen => "#ffb300",
        State::ForcedOpen => "#8e24aa",
        State::Disabled => "#9e9e9e",
        State::MetricsOnly => "#90a4ae",
    }
}

/// Escapes text for XML content and attributes.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws the timeline of a replay's events; `names` are the breakers' names by index.
pub fn svg(events: &[Event], names: &[String]) -> String {
    let end = events.iter().map(|e| e.t_ns).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: u64| LEFT + plot_w * (t as f64 / end as f64);
    let row = BAND + CHART + GAP;
    let height = TOP + row * names.len() as f64 + 30.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let mut lx = LEFT;
    for s in [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ] {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="10" width="12" height="12" fill="{}"/><text x="{}" y="20">{}</text>"#,
            colour(s),
            lx + 16.0,
            s.as_str()
        );
        lx += 110.0;
    }
    let _ = writeln!(out, r#"<text x="{lx}" y="20">error rate (line)</text>"#);
    for (b, name) in names.iter().enumerate() {
        let y = TOP + row * b as f64;
        let _ = writeln!(out, r#"<text x="5" y="{}">{}</text>"#, y + 16.0, xml(name));
        // State band.
        let mut state = State::Closed;
        let mut since = 0u64;
        let mut marks = Vec::new();
        for e in events.iter().filter(|e| e.breaker == b) {
            if let EventKind::Transition { from, to, reason } = &e.kind {
                band(&mut out, x(since), x(e.t_ns), y, state);
                marks.push((
                    e.t_ns,
                    format!(
                        "{} {} -> {}: {reason}",
                        format_duration(e.t_ns),
                        from.as_str(),
                        to.as_str()
                    ),
                ));
                state = *to;
                since = e.t_ns;
            }
        }
        band(&mut out, x(since), x(end), y, state);
        for (t, label) in marks {
            let _ = writeln!(
                out,
                r##"<line x1="{0:.2}" x2="{0:.2}" y1="{1}" y2="{2}" stroke="#000" stroke-width="1"><title>{3}</title></line>"##,
                x(t),
                y,
                y + BAND,
                xml(&label)
            );
        }
        // Error rate per slice of time, from the calls that ended in it.
        let mut ended = [0u64; BUCKETS];
        let mut failed = [0u64; BUCKETS];
        for e in events.iter().filter(|e| e.breaker == b) {
            if let EventKind::Ended { outcome, .. } = e.kind {
                let i = ((u128::from(e.t_ns) * BUCKETS as u128 / (u128::from(end) + 1)) as usize)
                    .min(BUCKETS - 1);
                ended[i] += 1;
                failed[i] += u64::from(outcome.is_failure());
            }
        }
        let cy = y + BAND + 4.0;
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{cy}" width="{plot_w}" height="{CHART}" fill="none" stroke="#ccc"/>"##
        );
        let points: Vec<String> = (0..BUCKETS)
            .filter(|&i| ended[i] > 0)
            .map(|i| {
                let px = LEFT + plot_w * (i as f64 + 0.5) / BUCKETS as f64;
                let py = cy + CHART * (1.0 - failed[i] as f64 / ended[i] as f64);
                format!("{px:.2},{py:.2}")
            })
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="#e53935" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="10">100%</text>"#,
            LEFT - 30.0,
            cy + 9.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="10">0%</text>"#,
            LEFT - 20.0,
            cy + CHART
        );
    }
    let axis_y = height - 10.0;
    for i in 0..=4u64 {
        let t = (u128::from(end) * u128::from(i) / 4) as u64;
        let _ = writeln!(
            out,
            r#"<text x="{:.2}" y="{axis_y}" text-anchor="middle" font-size="10">{}</text>"#,
            x(t),
            format_duration(t)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn band(out: &mut String, x0: f64, x1: f64, y: f64, state: State) {
    if x1 > x0 {
        let _ = writeln!(
            out,
            r#"<rect x="{x0:.2}" y="{y}" width="{:.2}" height="{BAND}" fill="{}"/>"#,
            x1 - x0,
            colour(state)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_band_per_state_and_marks_transitions() {
        let trace = crate::trace::parse(
            "t",
            "breaker a<b fail_max=1 reset=1s\n0s a<b ok\n1s a<b err\n3s a<b ok\n",
        );
        assert!(
            trace.is_err(),
            "names are restricted, so no markup can come from them"
        );
        let trace = crate::trace::parse(
            "t",
            "breaker a fail_max=1 reset=1s\n0s a ok\n1s a err\n3s a ok\n",
        )
        .unwrap();
        let svg = svg(&crate::model::replay(&trace), &["a".to_string()]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<title>").count(), 2);
        assert!(svg.contains("1 consecutive failure"));
    }
}
