//! `GET /events`: the transition, reconfiguration and stats stream, as
//! Server-Sent Events.
//!
//! Registry listeners serialize each transition and each reconfiguration
//! once and hand it to a broadcast channel; every connection then merges
//! that channel with a one-second timer of stats snapshots (all breakers in
//! one message, each in the shape of `GET /breakers/{name}`), each followed,
//! when the registry has a store that describes the fleet, by a `fleet`
//! message (the shape of `GET /fleet`).

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use futures_util::future::{Either, select};
use futures_util::stream::{self, Stream};
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Interval, MissedTickBehavior};

use crate::Registry;

/// How often every connection gets a stats snapshot. The snapshots double as
/// the keep-alive: a connection never stays silent longer than this.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// The longest a snapshot's `fleet` message waits for the store; past it the
/// message is left out (the next second brings another).
const FLEET_WAIT: Duration = Duration::from_millis(500);

/// Messages a slow connection may fall behind by before it skips ahead
/// (it then gets a fresh snapshot instead of the ones it missed).
const BACKLOG: usize = 256;

/// One event for every connection: its SSE name and its JSON data,
/// serialized once for all of them.
#[derive(Clone)]
struct Message {
    event: &'static str,
    data: Arc<str>,
}

/// The sending side of the events, fed by registry listeners.
#[derive(Clone)]
pub(super) struct Feed(broadcast::Sender<Message>);

impl Feed {
    /// Broadcasts from now on every transition (`transition`) and every
    /// reconfiguration that changed a value (`configured`) of every breaker
    /// of `registry`. One channel for both keeps a breaker's events in the
    /// order its listeners saw them.
    pub(super) fn listen(registry: &Registry) -> Feed {
        let (sender, _) = broadcast::channel(BACKLOG);
        let transitions = sender.clone();
        registry.on_transition(move |t| {
            // `t.at` is the breaker's clock at the move, an instant ago:
            // the wall clock read now places it.
            publish(&transitions, "transition", super::json::transition(t, t.at));
        });
        let reconfigurations = sender.clone();
        registry.on_configured(move |c| {
            publish(&reconfigurations, "configured", super::json::configured(c));
        });
        Feed(sender)
    }
}

/// Hands `data` to every connection without waiting: the listeners run on
/// the breaker's own thread.
fn publish(sender: &broadcast::Sender<Message>, event: &'static str, data: Value) {
    // `send` never waits: with no connection it fails, and a full channel
    // overwrites the oldest message (its receivers lag).
    let _ = sender.send(Message {
        event,
        data: Arc::from(data.to_string()),
    });
}

/// The stream of one connection: a snapshot at once, then transitions as
/// they happen and a snapshot every second.
pub(super) fn stream(
    registry: &'static Registry,
    feed: &Feed,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let mut timer =
        tokio::time::interval_at(tokio::time::Instant::now() + STATS_EVERY, STATS_EVERY);
    // A stalled connection gets one snapshot when it wakes up, not a burst.
    timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let start = Connection {
        registry,
        receiver: feed.0.subscribe(),
        timer,
        greeted: false,
        pending: None,
    };
    Sse::new(stream::unfold(start, |mut connection| async move {
        let event = connection.next().await?;
        Some((Ok(event), connection))
    }))
}

struct Connection {
    registry: &'static Registry,
    receiver: broadcast::Receiver<Message>,
    timer: Interval,
    greeted: bool,
    /// The fleet read with the last snapshot, sent right after it.
    pending: Option<Event>,
}

impl Connection {
    /// The next event, or `None` when the feed can no longer send.
    async fn next(&mut self) -> Option<Event> {
        if let Some(fleet) = self.pending.take() {
            return Some(fleet);
        }
        if !self.greeted {
            self.greeted = true;
            return Some(self.snapshot().await);
        }
        let received = {
            let message = pin!(self.receiver.recv());
            let tick = pin!(self.timer.tick());
            match select(message, tick).await {
                Either::Left((received, _)) => Some(received),
                Either::Right(_) => None,
            }
        };
        match received {
            Some(Ok(message)) => Some(Event::default().event(message.event).data(&*message.data)),
            // Behind: the fresh state says more than the moves it skipped.
            Some(Err(RecvError::Lagged(_))) | None => Some(self.snapshot().await),
            Some(Err(RecvError::Closed)) => None,
        }
    }

    /// The stats, with the fleet kept to follow them.
    async fn snapshot(&mut self) -> Event {
        let stats = self.stats();
        if let Some(read) = self.registry.fleet() {
            if let Ok(Ok(fleet)) = tokio::time::timeout(FLEET_WAIT, read).await {
                self.pending = Some(
                    Event::default()
                        .event("fleet")
                        .data(super::json::fleet(&fleet).to_string()),
                );
            }
        }
        stats
    }

    fn stats(&self) -> Event {
        let breakers: Vec<Value> = self
            .registry
            .list()
            .iter()
            .map(|breaker| super::json::breaker(self.registry, breaker))
            .collect();
        Event::default()
            .event("stats")
            .data(json!({ "breakers": breakers }).to_string())
    }
}
