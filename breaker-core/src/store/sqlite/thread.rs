//! The store's thread: it owns the connection, so breakers never touch the
//! file. It handles breakers' commands in order, looks for other processes'
//! changes every poll interval, and when the file becomes unavailable (a
//! lock held past the busy timeout, an I/O error) reports it once, answers
//! breakers locally, and tries again every poll interval until it is back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use rusqlite::Connection;

use super::hub::Core;
use super::schema::{self, Sql};
use super::shared_state;
use super::table;
use crate::store::Trial;
use crate::store::tabular::command::Command;

/// The connection and what the thread knows of the file.
pub(super) struct Session {
    pub(super) core: Arc<Core>,
    pub(super) conn: Connection,
    pub(super) sql: Sql,
    /// Whether the table was set up (a lock at opening postpones it).
    pub(super) ready: bool,
    /// The file's change counter at the last poll.
    pub(super) data_version: Option<i64>,
}

/// The store's thread, until every sender (the store and its links) is gone.
pub(super) fn run(mut session: Session, rx: Receiver<Command>) {
    let interval = session.core.options.poll_interval;
    let mut next_tick = Instant::now() + interval;
    loop {
        match rx.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(command) => session.handle(command),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Polled on time even under a steady stream of commands.
        if Instant::now() >= next_tick {
            session.tick();
            next_tick = Instant::now() + interval;
        }
    }
}

impl Session {
    fn handle(&mut self, command: Command) {
        if !self.core.up.load(Ordering::Acquire) {
            command.answer_locally();
            return;
        }
        if let Err(e) = self.execute(command) {
            self.lost(&e);
        }
    }

    fn execute(&mut self, command: Command) -> rusqlite::Result<()> {
        let (core, sql) = (&*self.core, &self.sql);
        match command {
            Command::Join { link, done } => {
                let result = shared_state::join(core, &self.conn, sql, &link);
                let _ = done.try_send(());
                result
            }
            Command::Publish {
                link,
                write,
                adoptions,
            } => {
                // A transition ends the period its permits were taken in.
                link.permits.forget();
                let result =
                    shared_state::publish(core, &mut self.conn, sql, &link, &write, adoptions);
                if result.is_err() {
                    link.dirty.store(true, Ordering::Release);
                }
                result
            }
            Command::Acquire { link, reply } => {
                let ttl_ms = crate::store::row::millis(core.options.trial_ttl);
                match table::acquire(&mut self.conn, sql, &link.name, link.half_open, ttl_ms) {
                    Ok((trial, taken)) => {
                        let answered = reply.answer(trial);
                        if let Some(taken) = taken {
                            if answered {
                                link.permits.took(taken);
                            } else {
                                // The caller gave up waiting: the permit goes back.
                                table::release(&self.conn, sql, &link.name, taken)?;
                            }
                        }
                        Ok(())
                    }
                    Err(e) => {
                        // Unavailable before the answer: the caller, and
                        // every call after it, decide locally without waiting.
                        lost(core, &e);
                        reply.answer(Trial::Local);
                        Ok(())
                    }
                }
            }
            Command::Release { link } => match link.permits.give_back() {
                Some(taken) => table::release(&self.conn, sql, &link.name, taken),
                // Taken in a period a transition ended: its write cleared it.
                None => Ok(()),
            },
            Command::Flush { done } => {
                let _ = done.try_send(());
                Ok(())
            }
        }
    }

    fn lost(&mut self, error: &rusqlite::Error) {
        lost(&self.core, error);
    }

    /// Every poll interval: look for changes, or try to get the file back.
    fn tick(&mut self) {
        if self.core.up.load(Ordering::Acquire) {
            if let Err(e) = self.poll() {
                self.lost(&e);
            }
        } else if self.recover().is_ok() {
            self.core.up.store(true, Ordering::Release);
            self.core.report_up();
        }
    }

    /// Reads every breaker's row, but only when another process wrote to
    /// the file since the last poll.
    fn poll(&mut self) -> rusqlite::Result<()> {
        let version = table::data_version(&self.conn)?;
        if self.data_version == Some(version) {
            return Ok(());
        }
        self.data_version = Some(version);
        shared_state::poll(&self.core, &self.conn, &self.sql)
    }

    /// Sets the table up if that was postponed, checks that a write would
    /// pass, and reconciles every breaker.
    fn recover(&mut self) -> rusqlite::Result<()> {
        if !self.ready {
            schema::set_up(&self.conn, &self.core.options.table, &self.sql)?;
            self.ready = true;
        }
        table::probe(&mut self.conn)?;
        for link in self.core.all_links() {
            shared_state::reconcile(&self.core, &mut self.conn, &self.sql, &link)?;
        }
        self.data_version = None;
        Ok(())
    }
}

/// A statement failed: the file counts as unavailable until a probe passes.
/// Reported on the change only.
fn lost(core: &Core, error: &rusqlite::Error) {
    if core.up.swap(false, Ordering::AcqRel) {
        core.report_down(error);
    }
}
