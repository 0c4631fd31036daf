//! Reloading the operators' file when it changes (feature `config-file`):
//! a watcher thread that the operator opts into.
//!
//! It watches the file's folder, not the file: editors save by writing a new
//! file and renaming it over the old one, which a watch on the file itself
//! would lose after the first save. A save comes as a burst of events; the
//! thread waits for the burst to settle before it reloads, so one save is
//! one reload.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::named::Registry;

/// How long a burst of file events must be quiet before the reload.
const SETTLE: Duration = Duration::from_millis(100);

/// Watches the operators' file and reloads it into its registry when it
/// changes ([`Registry::watch_config`]); stops when dropped.
pub struct ConfigWatcher {
    // Dropped first: it closes the channel, which ends the thread.
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl ConfigWatcher {
    /// The file it watches.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        drop(self.watcher.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("path", &self.path)
            .finish()
    }
}

/// Why [`Registry::watch_config`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum WatchError {
    /// The registry's overrides read no file from disk (`BREAKER_CONFIG`
    /// unset, or overrides built in code).
    NoFile,
    /// The operating system refused the watch.
    Watch(notify::Error),
}

impl std::fmt::Display for WatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchError::NoFile => write!(
                f,
                "no operators' file to watch: set `{}` to its path, or give the registry overrides made with `Overrides::read_file`",
                crate::overrides::CONFIG_VAR
            ),
            WatchError::Watch(error) => write!(f, "cannot watch the operators' file: {error}"),
        }
    }
}

impl std::error::Error for WatchError {}

impl Registry {
    /// Reloads the operators' file ([`reload_config`](Registry::reload_config))
    /// each time it changes on disk, until the returned watcher is dropped.
    /// Opt-in: nothing watches the file unless this is called (on the global
    /// registry, `breaker_core::registry().watch_config()`).
    ///
    /// A save that breaks the file changes no breaker and is reported (once
    /// per mistake) in [`config_errors`](Registry::config_errors); the next
    /// good save applies.
    pub fn watch_config(&'static self) -> Result<ConfigWatcher, WatchError> {
        let path = self
            .overrides()
            .path()
            .map(Path::to_path_buf)
            .ok_or(WatchError::NoFile)?;
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_owned());
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let ours = match &event {
                    Ok(event) => event
                        .paths
                        .iter()
                        .any(|p| p.file_name().map(|n| n.to_owned()) == name),
                    // An error of the watch itself: a reload reads the file anew.
                    Err(_) => true,
                };
                if ours {
                    let _ = tx.send(());
                }
            })
            .map_err(WatchError::Watch)?;
        watcher
            .watch(&folder, RecursiveMode::NonRecursive)
            .map_err(WatchError::Watch)?;
        let thread = std::thread::Builder::new()
            .name("breaker-config-watch".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    loop {
                        match rx.recv_timeout(SETTLE) {
                            Ok(()) => continue,
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    // Mistakes are reported and kept by the reload itself.
                    let _ = self.reload_config();
                }
            })
            .map_err(|e| WatchError::Watch(notify::Error::io(e)))?;
        Ok(ConfigWatcher {
            watcher: Some(watcher),
            thread: Some(thread),
            path,
        })
    }
}
