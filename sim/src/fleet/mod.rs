//! Replaying a trace across a fleet: every breaker of the trace runs on N
//! replicas, breaker-core's breakers sharing their state through
//! breaker-core's in-memory store (`store::memory`, the Redis store's
//! rules), with a link delay and partitions, all on one virtual clock.
//!
//! - [`options`]: the fleet as the command line gives it (`--replicas`,
//!   `--link`, `--partition`);
//! - [`world`]: what the replicas share, as the engine's `World`;
//! - [`cast`]: the replicas' subjects, built as the trace declares breakers;
//! - [`summary`]: the fleet's summary;
//! - [`check`]: the fleet's invariants, verified on the replay;
//! - [`replay`]: the check's replay, line by line.

pub mod cast;
pub mod check;
pub mod options;
pub mod replay;
pub mod summary;
pub mod world;
