//! breaker-sim: trace replay under virtual time.
