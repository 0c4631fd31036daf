//! A progress bar (indicatif) on standard error for replays longer than a
//! second: progress is the share of the inputs' bytes read (compressed
//! bytes for a compressed file), or a count of bytes read from standard
//! input, whose size is not known. indicatif draws nothing when standard
//! error is not a terminal, so a piped or redirected run shows none.

use std::time::{Duration, Instant};

/// How long a replay runs before its bar shows: short ones never show one.
const DELAY: Duration = Duration::from_secs(1);

/// The bar of one replay (or of several side by side, as `tune`'s).
pub struct Progress {
    enabled: bool,
    started: Instant,
    label: String,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A bar labelled `label`, never shown when `quiet`.
    pub fn new(quiet: bool, label: &str) -> Progress {
        Progress {
            enabled: !quiet,
            started: Instant::now(),
            label: label.to_string(),
            bar: None,
        }
    }

    /// `read` bytes of `total` (unknown for standard input) are read.
    pub fn update(&mut self, read: u64, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= DELAY {
            let (bar, template) = match total {
                Some(total) => (
                    indicatif::ProgressBar::new(total.max(1)),
                    "{msg} [{bar:30}] {percent:>3}% (eta {eta})",
                ),
                None => (
                    indicatif::ProgressBar::new_spinner(),
                    "{msg} {spinner} {bytes} read ({bytes_per_sec})",
                ),
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("#>-"));
            }
            bar.set_message(self.label.clone());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(read);
        }
    }

    /// The replay is over: the bar goes.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
