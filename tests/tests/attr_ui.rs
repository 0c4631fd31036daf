//! Compile-time proof of `#[circuit_breaker]`: every shape of function it must
//! accept (`tests/ui/pass`), a corpus of real-world signatures modelled on
//! popular crates (`tests/ui/corpus`), and every mistake it must refuse, with
//! the message pinned (`tests/ui/fail/*.stderr`). Regenerate a snapshot with
//! `TRYBUILD=overwrite`, then read it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.pass("ui/corpus/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
