"""sceau.services.admission: the latency gate, the body budget and their settings, on a
clock the test moves (no sleeps)."""

from __future__ import annotations

import pytest

from sceau.errors import InputError, Overloaded
from sceau.services.admission import AdmissionSettings, BodyBudget, LatencyGate
from sceau.services.http_server import ServerLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_gate_admits_up_to_its_limit_then_refuses_with_retry_after() -> None:
    clock = Clock()
    gate = LatencyGate(2.0, 4, clock=clock)
    for _ in range(4):
        gate.enter(clock.now)
    assert gate.refusal() is not None
    with pytest.raises(Overloaded) as refused:
        gate.enter(clock.now)
    assert refused.value.retry_after >= 1


def test_gate_refuses_a_request_that_waited_half_the_budget_when_busy() -> None:
    clock = Clock()
    gate = LatencyGate(2.0, 16, clock=clock)
    for _ in range(8):  # busy: half the initial limit in flight
        gate.enter(clock.now)
    arrival = clock.now
    clock.now += 1.1
    with pytest.raises(Overloaded):
        gate.enter(arrival)
    gate.enter(clock.now)  # a fresh one still gets in
    assert gate.in_flight == 9


def test_an_idle_gate_admits_a_late_request_on_a_slow_loop() -> None:
    """A loaded machine (loop lag, a slow client) is no reason to refuse the one request
    that came when nothing of ours is in flight."""
    clock = Clock()
    gate = LatencyGate(2.0, 16, clock=clock)
    gate.lag = 1.5
    arrival = clock.now
    clock.now += 1.1
    assert gate.refusal() is None
    gate.enter(arrival)
    assert gate.in_flight == 1


def test_gate_grows_while_fast_and_shrinks_when_slow() -> None:
    clock = Clock()
    gate = LatencyGate(2.0, 4, clock=clock)
    for _ in range(20):  # full, and every request done in 10 ms: grow
        arrivals = []
        while gate.refusal() is None:
            arrivals.append(clock.now)
            gate.enter(clock.now)
        clock.now += 0.01
        for a in arrivals:
            gate.leave(a)
        clock.now += 0.1
    grown = gate.limit
    assert grown > 20
    for _ in range(10):  # completions take 1.9 s: shrink, never below the minimum
        arrival = clock.now
        gate.enter(arrival)
        clock.now += 1.9
        gate.leave(arrival)
    assert 4 <= gate.limit < grown / 4


def test_body_budget_refuses_what_does_not_fit_and_gets_it_back() -> None:
    budget = BodyBudget(1000)
    budget.take(600)
    with pytest.raises(Overloaded):
        budget.take(500)
    budget.give_back(600)
    budget.take(1000)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"latency_budget": "fast"}, "must be a number"),
        ({"max_body": 10}, "at least"),
        ({"min_in_flight": True}, "must be a number"),
    ],
)
def test_admission_settings_refuse_bad_values(section: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        AdmissionSettings.from_config(section)


def test_settings_read_their_keys() -> None:
    assert AdmissionSettings.from_config({"latency_budget": 1}).latency_budget == 1.0
    limits = ServerLimits.from_config({"header_timeout": 3, "max_connections": 10})
    assert (limits.header_timeout, limits.max_connections) == (3.0, 10)
    with pytest.raises(InputError, match="at least"):
        ServerLimits.from_config({"max_connections": 0})
