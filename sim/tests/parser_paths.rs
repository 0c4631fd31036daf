//! The parser's fast path for plain lines agrees with the full parser, and
//! reading a file piece by piece agrees with parsing it whole, on random
//! traces: same lines, same declarations, same first error.

use breaker_sim::trace::{ReadError, Trace, TraceError, TraceParser, parse, read_in};
use proptest::prelude::*;

fn without_fast_path(text: &str) -> Result<Trace, TraceError> {
    let mut parser = TraceParser::new("p.trace").without_fast_path();
    parser.push(text.as_bytes(), true);
    parser.finish()
}

/// Hands out at most `step` bytes per read, as a pipe may.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn read_trickled(bytes: &[u8], step: usize, capacity: usize) -> Result<Trace, TraceError> {
    match read_in("p.trace", Trickle { bytes, step }, capacity) {
        Ok(t) => Ok(t),
        Err(ReadError::Trace(e)) => Err(e),
        Err(ReadError::Io { error, .. }) => panic!("{error}"),
    }
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9]{1,4}(\\.[0-9]{1,10})?(ns|us|ms|s|m|h)",
        2 => "\\+[0-9]{1,3}(ns|us|ms|s|m)",
        1 => "[0-9]{1,20}(\\.[0-9]{0,3})?(ns|us|ms|s|m|h|x)?([0-9]{1,2}(ns|us|ms|s))?",
        2 => Just("a".to_string()),
        1 => Just("bb".to_string()),
        1 => Just("c".to_string()),
        2 => prop_oneof![Just("ok"), Just("err"), Just("ignored"), Just("panic"), Just("trip"), Just("force_open"), Just("disable"), Just("reset"), Just("eror")].prop_map(str::to_string),
        1 => prop_oneof![Just("breaker"), Just("#"), Just("#x"), Just("é"), Just("\u{a0}"), Just("\u{0}"), Just("fail_max=2"), Just("timeout=1s"), Just("retry=3"), Just("err,ok"), Just("err,err"), Just("1ms,2ms"), Just("ok,")].prop_map(str::to_string),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![8 => Just(" "), 1 => Just("  "), 1 => Just("\t"), 1 => Just("\r"), 1 => Just(" \u{a0}"), 1 => Just("\u{b}")]
}

fn line() -> impl Strategy<Value = String> {
    proptest::collection::vec((word(), separator()), 0..6).prop_map(|words| {
        let mut line = String::new();
        for (i, (w, sep)) in words.iter().enumerate() {
            if i > 0 {
                line.push_str(sep);
            }
            line.push_str(w);
        }
        line
    })
}

fn trace() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(line(), 0..12),
        prop_oneof![Just("\n"), Just("\r\n")],
        any::<bool>(),
    )
        .prop_map(|(lines, newline, last_newline)| {
            let mut text = String::from("breaker a\nbreaker bb fail_max=2\n");
            for (i, l) in lines.iter().enumerate() {
                text.push_str(l);
                if i + 1 < lines.len() || last_newline {
                    text.push_str(newline);
                }
            }
            text
        })
}

// Seeded, so every run checks the same cases; set PROPTEST_RNG_SEED to explore others.
proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, rng_seed: proptest::test_runner::RngSeed::Fixed(std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(11)), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_and_pieces_agree_with_the_full_parser(text in trace(), step in 1usize..40, capacity in 1usize..64) {
        let whole = parse("p.trace", &text);
        prop_assert_eq!(&whole, &without_fast_path(&text));
        prop_assert_eq!(&whole, &read_trickled(text.as_bytes(), step, capacity));
    }
}

#[test]
fn a_late_declaration_is_found_across_pieces() {
    let text = "0s db ok\n# filler\n0s x ok\nbreaker db\n";
    let expected = "p.trace:1:4: breaker `db` is used before its declaration on line 4; declare every breaker before its first call";
    assert_eq!(parse("p.trace", text).unwrap_err().to_string(), expected);
    for step in 1..text.len() {
        assert_eq!(
            read_trickled(text.as_bytes(), step, 1)
                .unwrap_err()
                .to_string(),
            expected
        );
    }
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let e = read_trickled(b"breaker a\n0s a ok\n0s \xff a ok\n", 3, 4).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.trace:3:4: invalid UTF-8; a trace is UTF-8 text"
    );
}

#[test]
fn plain_lines_keep_their_values() {
    let trace = parse(
        "p.trace",
        "breaker a\n0.009443s a ok 48.695ms\n+1.5ms a err\n1m30.25s a panic 1h\n2m a trip\n",
    )
    .unwrap();
    let times: Vec<u64> = trace.lines.iter().map(|l| l.t_ns).collect();
    assert_eq!(
        times,
        [9_443_000, 10_943_000, 90_250_000_000, 120_000_000_000]
    );
    assert_eq!(
        trace.lines[0].item(),
        breaker_sim::trace::Item::Call {
            outcome: breaker_sim::trace::Outcome::Ok,
            latency_ns: 48_695_000
        }
    );
    assert_eq!(
        trace.lines[2].item(),
        breaker_sim::trace::Item::Call {
            outcome: breaker_sim::trace::Outcome::Panic,
            latency_ns: 3_600_000_000_000
        }
    );
}
