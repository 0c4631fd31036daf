#!/usr/bin/env python3
"""Replays zero-latency calls through pybreaker 1.4.1 on a fake clock.

Input (standard input), used by sim/tests/pybreaker_compat.rs:
    first line:  FAIL_MAX RESET_US SUCCESS
    then one call a line:  T_US OUTCOME      (OUTCOME: ok, err, ignored, panic)
Output: one line per call, `admitted STATE` or `rejected STATE`, STATE being
the breaker's state right after the call (closed, open, half_open).

pybreaker reads `datetime.now(UTC)`; the module's `datetime` is replaced by
one whose `now` returns the call's virtual time (microsecond resolution).
"""

import sys
from datetime import datetime, timedelta, timezone

import pybreaker

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
NOW_US = 0


class FakeDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return EPOCH + timedelta(microseconds=NOW_US)


pybreaker.datetime = FakeDatetime


class Failure(Exception):
    pass


class Panic(BaseException):
    pass


class Ignored(Exception):
    pass


def main():
    global NOW_US
    lines = sys.stdin.read().split("\n")
    fail_max, reset_us, success = (int(x) for x in lines[0].split())
    breaker = pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_us / 1_000_000,
        success_threshold=success,
        exclude=[Ignored],
    )
    out = []
    for line in lines[1:]:
        if not line.strip():
            continue
        t_us, outcome = line.split()
        NOW_US = int(t_us)
        ran = []

        def body():
            ran.append(True)
            if outcome == "err":
                raise Failure()
            if outcome == "panic":
                raise Panic()
            if outcome == "ignored":
                raise Ignored()
            return None

        try:
            breaker.call(body)
        except (pybreaker.CircuitBreakerError, Failure, Panic, Ignored):
            pass
        state = breaker.current_state.replace("-", "_")
        out.append(f"{'admitted' if ran else 'rejected'} {state}")
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))


if __name__ == "__main__":
    main()
