//! `GET /events`: the transition and stats stream, as Server-Sent Events.
//!
//! A registry listener serializes each transition once and hands it to a
//! broadcast channel; every connection then merges that channel with a
//! one-second timer of stats snapshots (all breakers in one message, each in
//! the shape of `GET /breakers/{name}`).

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

/// Transitions a slow connection may fall behind by before it skips ahead
/// (it then gets a fresh snapshot instead of the ones it missed).
const BACKLOG: usize = 256;

/// The sending side of the transitions, fed by a registry listener.
#[derive(Clone)]
pub(super) struct Transitions(broadcast::Sender<Arc<str>>);

impl Transitions {
    /// Broadcasts from now on every transition of every breaker of `registry`.
    pub(super) fn listen(registry: &Registry) -> Transitions {
        let (sender, _) = broadcast::channel(BACKLOG);
        let listener = sender.clone();
        registry.on_transition(move |t| {
            // `send` never waits: with no connection it fails, and a full
            // channel overwrites the oldest message (its receivers lag).
            // `t.at` is the breaker's clock at the move, an instant ago:
            // the wall clock read now places it.
            let data = super::json::transition(t, t.at).to_string();
            let _ = listener.send(Arc::from(data));
        });
        Transitions(sender)
    }
}

/// The stream of one connection: a snapshot at once, then transitions as
/// they happen and a snapshot every second.
pub(super) fn stream(
    registry: &'static Registry,
    transitions: &Transitions,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let mut timer =
        tokio::time::interval_at(tokio::time::Instant::now() + STATS_EVERY, STATS_EVERY);
    // A stalled connection gets one snapshot when it wakes up, not a burst.
    timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let start = Connection {
        registry,
        receiver: transitions.0.subscribe(),
        timer,
        greeted: false,
    };
    Sse::new(stream::unfold(start, |mut connection| async move {
        let event = connection.next().await?;
        Some((Ok(event), connection))
    }))
}

struct Connection {
    registry: &'static Registry,
    receiver: broadcast::Receiver<Arc<str>>,
    timer: Interval,
    greeted: bool,
}

impl Connection {
    /// The next event, or `None` when the transitions can no longer come.
    async fn next(&mut self) -> Option<Event> {
        if !self.greeted {
            self.greeted = true;
            return Some(self.stats());
        }
        let received = {
            let transition = pin!(self.receiver.recv());
            let tick = pin!(self.timer.tick());
            match select(transition, tick).await {
                Either::Left((received, _)) => Some(received),
                Either::Right(_) => None,
            }
        };
        match received {
            Some(Ok(data)) => Some(Event::default().event("transition").data(&*data)),
            // Behind: the fresh state says more than the moves it skipped.
            Some(Err(RecvError::Lagged(_))) | None => Some(self.stats()),
            Some(Err(RecvError::Closed)) => None,
        }
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
