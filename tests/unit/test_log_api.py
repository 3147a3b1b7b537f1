"""The LogAPI seam: both log implementations cover it, and the worker RPC table is derived
from it (one codec per method, each round-tripping its values)."""

from __future__ import annotations

from sceau.log import AppendResult, Log, SignedCheckpoint
from sceau.log.api import api_methods
from sceau.services.workers import RPC, RemoteLog


def test_every_log_api_method_has_an_implementation_and_a_codec() -> None:
    for name in api_methods():
        assert callable(getattr(Log, name)), name
        assert callable(getattr(RemoteLog, name)), name
    assert set(RPC) == set(api_methods())


def test_codecs_round_trip_through_json() -> None:
    import json

    cp = SignedCheckpoint(3, b"r" * 32, 1700000000000, "origin\n3\nx\n\n— sig\n")
    cases = {
        "latest": cp,
        "get_entry": b"\x00entry",
        "inclusion_proof": [b"a" * 32, b"b" * 32],
        "root_at": b"r" * 32,
        "read_path": (b"tile", "application/octet-stream", "max-age=60"),
        "find_leaf": 7,
        "lookup": [1, 2],
        "entry_time": 12,
    }
    for op, value in cases.items():
        codec = RPC[op]
        wire = json.loads(json.dumps(codec.result_out(value)))
        assert codec.result_in(wire) == value, op
    args = RPC["find_leaf"].args_in(json.loads(json.dumps(RPC["find_leaf"].args_out((b"h",)))))
    assert args == (b"h",)
    result = AppendResult(4, b"l" * 32, [b"p" * 32], cp, 5, False)
    append = RPC["append"]
    assert append.result_in(json.loads(json.dumps(append.result_out([result])))) == [result]
