"""The log side in process: a cosigner that restarts learns the witness's size from a 409; a
witness answering a line that does not verify contributes nothing; every answer's proof
leads to the cosigned checkpoint it carries."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sceau import merkle
from sceau.keys import generate_signer
from sceau.log import LogConfig, LogEngine
from sceau.log.cosigning import CosignedLog, Cosigner, CosigningSettings, WitnessEndpoint
from sceau.log.memory import MemoryStorage
from sceau.note import (
    Checkpoint,
    cosignature_signer,
    format_vkey,
    note_signer,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
)
from tests.serving import serve_app
from tests.witness.helpers import running_witness

pytestmark = pytest.mark.server

ORIGIN = "log.example.test"


def _endpoint(url: str, vkey: str) -> WitnessEndpoint:
    return WitnessEndpoint(url, vkey, parse_vkey(vkey))


def test_restart_learns_the_size_from_409(tmp_path: Path) -> None:
    signer = generate_signer("ed25519")
    vkey = format_vkey(note_signer(ORIGIN, signer))
    with running_witness(tmp_path / "w", "w.example", [vkey]) as w:
        settings = CosigningSettings((_endpoint(w.url, w.vkey),), 1, 5.0)

        async def scenario() -> None:
            engine = LogEngine(MemoryStorage())
            log = engine.add_log(LogConfig("l", ORIGIN, [note_signer(ORIGIN, signer)]))
            await engine.start()
            try:
                for generation in range(2):  # the second cosigner starts knowing nothing
                    cosigner = Cosigner(log, settings)
                    task = asyncio.create_task(cosigner.run())
                    cosigned = CosignedLog(log, cosigner)
                    for _ in range(3):
                        r = await cosigned.append(os.urandom(32))
                        assert "\u2014 w.example " in r.checkpoint.note, generation
                    task.cancel()
                    await cosigner.aclose()
            finally:
                await engine.close()

        asyncio.run(scenario())


def _bogus_witness_app(name: str) -> tuple[Starlette, str]:
    """Answers 200 with a cosignature line from a key other than the one it publishes."""
    published = cosignature_signer(name, generate_signer("ed25519"))
    actual = cosignature_signer(name, generate_signer("ed25519"))

    async def add(request) -> PlainTextResponse:
        body = (await request.body()).decode()
        note = body.split("\n\n", 1)[1]
        text = sign_note(parse_note(note).body, [actual])
        return PlainTextResponse(text.split("\n\n", 1)[1])

    return Starlette(routes=[Route("/add-checkpoint", add, methods=["POST"])]), format_vkey(
        published
    )


def test_a_line_that_does_not_verify_is_dropped(tmp_path: Path) -> None:
    signer = generate_signer("ed25519")
    vkey = format_vkey(note_signer(ORIGIN, signer))
    app, bogus_vkey = _bogus_witness_app("bogus.example")
    with running_witness(tmp_path / "w", "good.example", [vkey]) as good, serve_app(app) as bad:
        settings = CosigningSettings(
            (_endpoint(good.url, good.vkey), _endpoint(bad, bogus_vkey)), 2, 3.0
        )

        async def scenario() -> None:
            engine = LogEngine(MemoryStorage())
            log = engine.add_log(LogConfig("l", ORIGIN, [note_signer(ORIGIN, signer)]))
            await engine.start()
            cosigner = Cosigner(log, settings)
            task = asyncio.create_task(cosigner.run())
            try:
                r = await CosignedLog(log, cosigner).append(b"entry")
                note = r.checkpoint.note
                assert "\u2014 good.example " in note and "bogus.example" not in note
            finally:
                task.cancel()
                await cosigner.aclose()
                await engine.close()

        asyncio.run(scenario())


def _gated_proxy(target: str, gate: threading.Event) -> Starlette:
    """Forwards add-checkpoint to ``target`` once ``gate`` is set: holds a round open."""

    async def add(request) -> Response:
        body = await request.body()
        await asyncio.to_thread(gate.wait, 30)
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{target}/add-checkpoint", content=body)
        return Response(
            r.content, r.status_code, headers={"Content-Type": r.headers["content-type"]}
        )

    return Starlette(routes=[Route("/add-checkpoint", add, methods=["POST"])])


def test_answers_held_by_a_round_are_proven_against_the_next_cosigned_checkpoint(
    tmp_path: Path,
) -> None:
    """While a round is held open, 100 entries are sequenced in batches of at most 16; the
    next round cosigns the newest checkpoint and every one of them is answered with it and a
    proof to it (most were sequenced under an earlier checkpoint)."""
    signer = generate_signer("ed25519")
    vkey = format_vkey(note_signer(ORIGIN, signer))
    gate = threading.Event()
    with (
        running_witness(tmp_path / "w", "w.example", [vkey]) as w,
        serve_app(_gated_proxy(w.url, gate)) as proxy,
    ):
        settings = CosigningSettings((_endpoint(proxy, w.vkey),), 1, 20.0)

        async def scenario() -> None:
            engine = LogEngine(MemoryStorage(), batch_size=16)
            log = engine.add_log(LogConfig("l", ORIGIN, [note_signer(ORIGIN, signer)]))
            await engine.start()
            cosigner = Cosigner(log, settings)
            task = asyncio.create_task(cosigner.run())
            cosigned = CosignedLog(log, cosigner)
            try:
                first = asyncio.create_task(cosigned.append(b"first"))
                entries = [os.urandom(32) for _ in range(100)]
                rest = [asyncio.create_task(cosigned.append(e)) for e in entries]
                while (await log.latest()).size < 101:  # all sequenced, none answered
                    await asyncio.sleep(0.01)
                assert not any(t.done() for t in [first, *rest])
                gate.set()
                results = await asyncio.gather(*rest)
                await first
            finally:
                gate.set()
                task.cancel()
                await cosigner.aclose()
                await engine.close()
            for entry, r in zip(entries, results, strict=True):
                note = verify_note(r.checkpoint.note, [w.verifier])
                cp = Checkpoint.parse(note.body)
                assert cp.size == 101
                merkle.verify_inclusion(
                    r.index, cp.size, merkle.leaf_hash(entry), r.proof, cp.root_hash
                )

        asyncio.run(scenario())
