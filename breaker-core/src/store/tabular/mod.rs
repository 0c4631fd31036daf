//! What the stores that keep a row per breaker in a table (SQLite,
//! PostgreSQL) share beyond the row itself (`store::row`): a breaker's
//! membership ([`membership`]), the commands breakers queue for the store's
//! thread ([`command`]), the [`Link`](crate::store::Link) a breaker holds
//! ([`link`]), and how a row read or written applies to the breakers
//! ([`apply`]). Each store brings its own I/O, its own reports and its own
//! clock, through [`hub::TableHub`].

// This file only names the modules: they import one another, never it.

pub(crate) mod apply;
pub(crate) mod command;
pub(crate) mod hub;
pub(crate) mod link;
pub(crate) mod membership;
pub(crate) mod table_name;
