//! Reloading the operators' file into live breakers: on demand
//! (`Registry::reload_config`) and on change (`Registry::watch_config`), on
//! registries of their own and files in a temporary folder of their own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use breaker_core::clock::ManualClock;
use breaker_core::overrides::{Origin, Overrides, Source};
use breaker_core::{Config, Registry, State};

/// A folder of its own under the system's temporary folder.
fn folder(test: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "breaker-reload-{}-{test}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` as an editor saves: a new file renamed over the old one.
fn save(path: &Path, text: &str) {
    let next = path.with_extension("tmp");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

fn registry(path: &Path) -> Registry {
    let registry = Registry::with_overrides(Overrides::new().read_file(path));
    registry.use_clock(ManualClock::new());
    registry
}

fn keys(registry: &Registry, name: &str) -> String {
    registry.get(name).unwrap().config().to_keys()
}

#[test]
fn a_reload_reconfigures_live_breakers_and_keeps_their_state() {
    let dir = folder("live");
    let path = dir.join("breakers.toml");
    save(&path, "[db]\nfail_max = 5\n");
    let registry = registry(&path);
    let db = registry.get_or_create("db", || "fail_max = 3, reset = 10s".parse().unwrap());
    let other = registry.get_or_create("other", Config::default);
    assert_eq!(keys(&registry, "db"), "fail_max = 5, reset = 10s");
    for _ in 0..3 {
        db.acquire().unwrap().failure();
    }
    assert_eq!(db.state(), State::Closed);

    save(&path, "[db]\nfail_max = 4\nreset = \"1m\"\n");
    let changes = registry.reload_config().unwrap();
    assert_eq!(changes, [("db".to_owned(), vec!["fail_max", "reset"])]);
    assert_eq!(keys(&registry, "db"), "fail_max = 4, reset = 1m");
    assert_eq!(other.config(), &Config::default(), "not named by the file");
    db.acquire().unwrap().failure();
    assert_eq!(
        db.state(),
        State::Open,
        "the three failures before were kept"
    );
    assert_eq!(db.retry_after(), Some(Duration::from_secs(60)));

    let sources = registry.config_sources("db").unwrap();
    let fail_max = &sources[0];
    assert_eq!(fail_max.0, "fail_max");
    match &fail_max.1 {
        Source::Override(Origin::File { path: at, line, .. }) => {
            assert_eq!((at, *line), (&path, 2));
        }
        other => panic!("{other:?}"),
    }
    assert!(registry.config_errors().is_empty());
    assert!(registry.reload_config().unwrap().is_empty(), "nothing new");

    // A breaker created after the reload takes the new file.
    let late = registry.get_or_create("db2", Config::default);
    save(&path, "[db2]\nsuccess = 4\n");
    registry.reload_config().unwrap();
    assert_eq!(late.config().success(), 4);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_mistake_anywhere_changes_no_breaker_and_is_kept_once() {
    let dir = folder("mistake");
    let path = dir.join("breakers.toml");
    save(&path, "[a]\nfail_max = 5\n[b]\nfail_max = 5\n");
    let registry = registry(&path);
    let a = registry.get_or_create("a", Config::default);
    let b = registry.get_or_create("b", Config::default);

    save(&path, "[a]\nfail_max = 7\n[b]\nfail_max = 0\n");
    let errors = registry.reload_config().unwrap_err();
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(
        text.starts_with(&format!("{}:4:12:", path.display())),
        "{text}"
    );
    assert!(text.contains("breaker `b`, `fail_max`"), "{text}");
    assert_eq!(
        a.config().fail_max(),
        Some(5),
        "a keeps its configuration too"
    );
    assert_eq!(b.config().fail_max(), Some(5));

    assert!(registry.reload_config().is_err());
    assert_eq!(
        registry.config_errors(),
        errors,
        "kept once, not once a reload"
    );

    save(&path, "[a]\nfail_max = [\n");
    let errors = registry.reload_config().unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .starts_with(&format!("{}:", path.display()))
    );
    assert_eq!(a.config().fail_max(), Some(5));

    std::fs::remove_file(&path).unwrap();
    let errors = registry.reload_config().unwrap_err();
    assert!(
        errors[0].to_string().contains("cannot be read"),
        "{}",
        errors[0]
    );
    assert_eq!(a.config().fail_max(), Some(5));

    save(&path, "[a]\nfail_max = 7\n[b]\nfail_max = 8\n");
    registry.reload_config().unwrap();
    assert_eq!(
        (a.config().fail_max(), b.config().fail_max()),
        (Some(7), Some(8))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_reload_is_a_reconfiguration_the_latest_change_wins() {
    let dir = folder("latest");
    let path = dir.join("breakers.toml");
    save(&path, "[db]\nreset = \"10s\"\n");
    let registry = registry(&path);
    let db = registry.get_or_create("db", Config::default);
    registry
        .reconfigure("db", "fail_max = 9, reset = 20s")
        .unwrap();
    // The file did not change: reloading it applies its keys again.
    registry.reload_config().unwrap();
    assert_eq!(keys(&registry, "db"), "fail_max = 9, reset = 10s");
    let _ = db;
    let _ = std::fs::remove_dir_all(dir);
}

/// Polls `done` every 10 ms for at most `limit`.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

#[test]
fn the_watcher_reloads_each_save_and_stops_when_dropped() {
    let dir = folder("watch");
    let path = dir.join("breakers.toml");
    save(&path, "[db]\nfail_max = 5\n");
    let registry: &'static Registry = Box::leak(Box::new(registry(&path)));
    let db = registry.get_or_create("db", Config::default);
    let watcher = registry.watch_config().unwrap();
    assert_eq!(watcher.path(), path);

    // Real file events on the real clock: a generous bound, checked often.
    save(&path, "[db]\nfail_max = 6\n");
    assert!(within(Duration::from_secs(10), || db.config().fail_max()
        == Some(6)));
    save(&path, "[db]\nfail_max = oops\n");
    assert!(within(Duration::from_secs(10), || !registry
        .config_errors()
        .is_empty()));
    assert_eq!(
        db.config().fail_max(),
        Some(6),
        "a broken save changes nothing"
    );
    save(&path, "[db]\nfail_max = 7\n");
    assert!(within(Duration::from_secs(10), || db.config().fail_max()
        == Some(7)));

    drop(watcher);
    save(&path, "[db]\nfail_max = 8\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(db.config().fail_max(), Some(7), "no reload after the drop");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn watching_without_a_file_is_refused() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let error = registry.watch_config().unwrap_err();
    assert!(error.to_string().contains("BREAKER_CONFIG"), "{error}");
}
