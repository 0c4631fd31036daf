//! `breaker-sim plot` draws, per breaker, the state bands, the error rate,
//! the transitions and why it opened, with a legend: checked by parsing the
//! SVG it writes.

mod support;

use breaker_sim::subject::real;
use breaker_sim::{plot, trace};

fn render(name: &str) -> String {
    let path = format!("{}/traces/{name}.trace", support::package_dir().display());
    let text = std::fs::read_to_string(&path).unwrap();
    let trace = trace::parse(&path, &text).unwrap();
    let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
    plot::svg(&real::replay(&path, &trace).unwrap(), &names).unwrap()
}

fn texts(doc: &roxmltree::Document<'_>) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

fn rects_of<'a>(doc: &'a roxmltree::Document<'a>, fill: &str, opacity: &str) -> usize {
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("rect")
                && n.attribute("fill") == Some(fill)
                && n.attribute("opacity") == Some(opacity)
        })
        .count()
}

const OPEN: &str = "#E53935";
const CLOSED: &str = "#4CAF50";
const RATE: &str = "#1565C0";
const MARK: &str = "#212121";

#[test]
fn outage_shows_its_openings_states_rate_and_legend() {
    let svg = render("outage");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert!(root.has_tag_name("svg"));
    assert_eq!(root.attribute("width"), Some("1000"));
    assert_eq!(root.attribute("height"), Some("300"), "one panel");

    let texts = texts(&doc);
    for expected in [
        "db: 7 transitions, 3 openings",
        "opened at 12s5ms: 5 consecutive failures",
        "opened at 22s10ms: trial failed",
        "opened at 32s10ms: trial failed",
        "closed",
        "open",
        "half_open",
        "error rate",
        "transition",
        "0%",
        "100%",
        "0s",
        "error rate",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "no text `{expected}` in {texts:?}"
        );
    }
    // No state the breaker never entered in the legend.
    assert!(!texts.iter().any(|t| t == "forced_open" || t == "disabled"));

    // Three Open periods: a solid strip and a faint shade each, and the legend's swatch.
    assert_eq!(rects_of(&doc, OPEN, "1"), 3 + 1);
    assert_eq!(rects_of(&doc, OPEN, "0.12"), 3);
    // Closed before the outage and after recovery.
    assert_eq!(rects_of(&doc, CLOSED, "1"), 2 + 1);

    // The error rate: a line per run of slices of time where calls ended, and the legend's.
    let rate_lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(RATE))
        .count();
    assert!(rate_lines > 1, "{rate_lines}");
    // A line per transition, and the legend's.
    let marks = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(MARK))
        .count();
    assert_eq!(marks, 7 + 1);
}

#[test]
fn every_breaker_has_a_panel_and_long_runs_are_summarised() {
    let svg = render("manual");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().attribute("height"), Some("560"));
    let texts = texts(&doc);
    assert!(texts.iter().any(|t| t == "m: 25 transitions, 11 openings"));
    assert!(texts.iter().any(|t| t == "n: 1 transition, 1 opening"));
    assert!(
        texts
            .iter()
            .any(|t| t == "forced open at 1s: manual force_open")
    );
    assert!(texts.iter().any(|t| t == "and 5 more openings"));
    assert!(texts.iter().any(|t| t == "forced_open"));
}

#[test]
fn the_plot_is_deterministic() {
    for name in [
        "outage",
        "flapping",
        "half_open",
        "backoff",
        "manual",
        "rates",
    ] {
        let svg = render(name);
        assert_eq!(svg, render(name), "{name}");
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
