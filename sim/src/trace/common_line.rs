//! The common line, fast: `<time> <breaker> <outcome> [latency]` or
//! `<time> <breaker> <action>` in ASCII, with no comment, read straight from
//! the bytes in one pass.
//!
//! Whatever this accepts, the full parser ([`super::any_line`]) accepts with
//! the same result; anything else (a declaration, a comment, a blank line,
//! non-ASCII text, a mistake, a line not yet ended by `\n`) is left to it.

use crate::duration::parse_prefix;

use super::TraceParser;
use super::ast::{Action, Line, Outcome};

/// A byte that belongs to a word: printable ASCII but `#`.
const WORD: u8 = 0;
/// Whitespace within a line, as the full tokenizer sees it in ASCII text.
const BLANK: u8 = 1;
/// The end of the line.
const NEWLINE: u8 = 2;
/// A comment sign, a control character or a byte of non-ASCII text.
const OTHER: u8 = 3;

/// The class of every byte: one load per byte of the trace.
static CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut b = 0x21;
    while b < 0x7f {
        class[b] = WORD;
        b += 1;
    }
    class[b'#' as usize] = OTHER;
    class[b'\t' as usize] = BLANK;
    class[0x0b] = BLANK;
    class[0x0c] = BLANK;
    class[b'\r' as usize] = BLANK;
    class[b' ' as usize] = BLANK;
    class[b'\n' as usize] = NEWLINE;
    class
};

/// The class of the byte at `i`; the end of the slice counts as [`OTHER`]
/// (the line is not known to be whole).
fn class(b: &[u8], i: usize) -> u8 {
    b.get(i).map_or(OTHER, |&c| CLASS[usize::from(c)])
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while class(b, i) == BLANK {
        i += 1;
    }
    i
}

/// The end of the word starting at `i`, if it is not empty and ends at a
/// blank or at the end of the line.
fn word(b: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    loop {
        match class(b, i) {
            WORD => i += 1,
            BLANK | NEWLINE if i > start => return Some(i),
            _ => return None,
        }
    }
}

/// A duration word at `i`: its value and end. Inlined into the line's
/// parse: out of line, its two calls a line saved and restored six
/// registers each.
#[inline(always)]
fn duration(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let (ns, len) = parse_prefix(b.get(i..)?)?;
    matches!(class(b, i + len), BLANK | NEWLINE).then_some((ns, i + len))
}

enum What {
    Call(Outcome),
    Action(Action),
}

fn what(word: &[u8]) -> Option<What> {
    Some(match word {
        b"ok" => What::Call(Outcome::Ok),
        b"err" => What::Call(Outcome::Err),
        b"ignored" => What::Call(Outcome::Ignored),
        b"panic" => What::Call(Outcome::Panic),
        b"trip" => What::Action(Action::Trip),
        b"force_open" => What::Action(Action::ForceOpen),
        b"disable" => What::Action(Action::Disable),
        b"reset" => What::Action(Action::Reset),
        b"metrics_only" => What::Action(Action::MetricsOnly),
        _ => return None,
    })
}

impl TraceParser {
    /// The line at the start of `b` and the bytes it takes with its `\n`, if
    /// it is a plain call or action line.
    pub(super) fn fast(&self, b: &[u8]) -> Option<(Line, usize)> {
        let relative = b.first() == Some(&b'+');
        let (d, t1) = duration(b, usize::from(relative))?;
        let t_ns = if relative {
            self.previous.unwrap_or(0).checked_add(d)?
        } else {
            d
        };
        if self.previous.is_some_and(|p| t_ns < p) {
            return None;
        }
        let n0 = skip_blanks(b, t1);
        let n1 = word(b, n0)?;
        let breaker = self.find_bytes(&b[n0..n1])?;
        let w0 = skip_blanks(b, n1);
        let w1 = word(b, w0)?;
        let mut i = skip_blanks(b, w1);
        let line = match what(&b[w0..w1])? {
            What::Call(outcome) => {
                let mut latency_ns = 0;
                if class(b, i) == WORD {
                    (latency_ns, i) = duration(b, i)?;
                    i = skip_blanks(b, i);
                }
                Line::call(t_ns, breaker, outcome, latency_ns)
            }
            What::Action(action) => Line::action(t_ns, breaker, action),
        };
        (class(b, i) == NEWLINE).then_some((line, i + 1))
    }
}
