"""The CT log across a restart: entries keep their chains, resubmissions keep their SCTs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sceau.keys import generate_signer
from sceau.log import LogEngine
from sceau.log.sqlite import SQLiteStorage
from sceau.services.ca.authority import make_ca_chain
from sceau.services.ca.profile import LeafTemplate, precertificate
from sceau.services.ct import rfc6962
from sceau.services.ct.service import build_ct_log
from tests.ca.helpers import principals

DER = serialization.Encoding.DER


def test_restart_keeps_chains_and_sct_dedup(tmp_path: Path) -> None:
    key = generate_signer("ecdsa-p256")
    chain, _ = make_ca_chain()
    chain_der = [c.public_bytes(DER) for c in chain.chain]
    precerts = [
        precertificate(
            LeafTemplate.new(p, ec.generate_private_key(ec.SECP256R1()).public_key()), chain
        ).public_bytes(DER)
        for p in principals().values()
    ]

    async def session(submit: list[bytes]):  # type: ignore[no-untyped-def]
        engine = LogEngine(SQLiteStorage(tmp_path / "log.sqlite"), batch_interval=0.01)
        ct = build_ct_log(engine, key, [chain.root], origin="t/ct", extra=tmp_path / "x.sqlite")
        await engine.start()
        try:
            scts = [await ct.add_pre_chain([p, *chain_der]) for p in submit]
            sth = await ct.get_sth()
            entries = await ct.entries(0, sth.tree_size - 1)
            return scts, sth, entries
        finally:
            await engine.close()
            await ct.close()

    first, sth1, _ = asyncio.run(session(precerts))
    again, sth2, entries = asyncio.run(session(precerts[:2]))
    assert again == first[:2]  # same precert → same SCT, even after a restart
    assert sth2.tree_size == sth1.tree_size == len(precerts)
    assert sth2.root_hash == sth1.root_hash
    for entry, pre in zip(entries, precerts, strict=True):
        leaf = rfc6962.parse_merkle_tree_leaf(entry.leaf_input)
        assert rfc6962.parse_extra_data(leaf.entry_type, entry.extra_data) == (
            pre,
            chain_der,
        )
