//! The Prometheus text exposition of a registry (format 0.0.4), rendered
//! straight from the breakers' statistics: no exporter needed.

use std::fmt::Write;

use crate::Registry;
use crate::telemetry::{FAMILIES, Kind, TRANSITIONS, TransitionCounts, Value, snapshot};

/// The content type of the text format.
pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every family of every breaker of `registry`, with HELP and TYPE lines.
pub(super) fn render(registry: &Registry, transitions: &TransitionCounts) -> String {
    let breakers = snapshot(registry);
    let mut out = String::new();
    for family in &FAMILIES {
        header(&mut out, family.name, family.help, family.kind);
        for (name, stats) in &breakers {
            (family.samples)(stats, &mut |label, value| {
                let mut labels = vec![("breaker", name.as_str())];
                labels.extend(label);
                sample(&mut out, family.name, &labels, value);
            });
        }
    }
    header(&mut out, TRANSITIONS.0, TRANSITIONS.1, Kind::Counter);
    for ((name, from, to), n) in transitions.read() {
        let labels = [("breaker", &*name), ("from", from), ("to", to)];
        sample(&mut out, TRANSITIONS.0, &labels, Value::Count(n));
    }
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let kind = match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    let _ = writeln!(out, "# HELP {name} {}", escape(help, false));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: Value) {
    out.push_str(name);
    out.push('{');
    for (i, (key, label_value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{key}=\"{}\"", escape(label_value, true));
    }
    out.push('}');
    let _ = match value {
        Value::Count(n) => writeln!(out, " {n}"),
        Value::Level(x) if x.is_nan() => writeln!(out, " NaN"),
        Value::Level(x) if x.is_infinite() => {
            writeln!(out, " {}", if x > 0.0 { "+Inf" } else { "-Inf" })
        }
        Value::Level(x) => writeln!(out, " {x}"),
    };
}

/// Escapes text as the format asks: backslash and line feed everywhere, and
/// the double quote in label values.
fn escape(text: &str, label: bool) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\\', '\n', '"']) {
        return text.into();
    }
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if label => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#, true), r#"a\"b\\c"#);
        assert_eq!(escape("line\nbreak", true), "line\\nbreak");
        assert_eq!(escape(r#"help "quoted""#, false), r#"help "quoted""#);
        assert_eq!(escape("plain", true), "plain");
    }

    #[test]
    fn every_family_has_help_and_type_and_a_sample_per_breaker() {
        let registry = Registry::new();
        let counts = TransitionCounts::listen(&registry);
        let db = registry.get_or_create("db \"main\"", Config::default);
        db.call(|| Ok::<_, crate::Error>(())).unwrap();
        db.trip();
        let text = render(&registry, &counts);
        assert!(text.contains("# HELP breaker_calls_total "));
        assert!(text.contains("# TYPE breaker_calls_total counter\n"));
        assert!(text.contains("# TYPE breaker_state gauge\n"));
        assert!(
            text.contains(
                "breaker_calls_total{breaker=\"db \\\"main\\\"\",outcome=\"success\"} 1\n"
            )
        );
        assert!(text.contains("breaker_state{breaker=\"db \\\"main\\\"\",state=\"open\"} 1\n"));
        assert!(text.contains("breaker_state{breaker=\"db \\\"main\\\"\",state=\"closed\"} 0\n"));
        assert!(text.contains(
            "breaker_transitions_total{breaker=\"db \\\"main\\\"\",from=\"closed\",to=\"open\"} 1\n"
        ));
        // No rate policy: no rate sample, but the family is still declared.
        assert!(text.contains("# TYPE breaker_failure_rate_ratio gauge\n"));
        assert!(!text.contains("breaker_failure_rate_ratio{"));
    }
}
