"""sigstore-js's TUF client (``@sigstore/tuf``, as `--tuf-mirror-url`/`--tuf-root-path` use it)
fetches the trusted root from our repository.

The module comes from the Node.js installation (npm bundles ``@sigstore/tuf`` for package
provenance); without Node the test is skipped, as it depends on nothing in this project.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from sceau.services.tuf import routes
from sceau.trust import SIGNING_CONFIG_FILE, TRUSTED_ROOT_FILE, TufKeys, TufRepository, dumps
from tests.serving import serve_app
from tests.trust._material import Instance

pytestmark = [pytest.mark.server, pytest.mark.interop]

SCRIPT = """
const { getTrustedRoot } = require(process.argv[1]);
const specs = require(require.resolve("@sigstore/protobuf-specs", { paths: [process.argv[1]] }));
getTrustedRoot({ mirrorURL: process.argv[2], rootPath: process.argv[3],
                 cachePath: process.argv[4], retry: 0, timeout: 5000 })
  .then((tr) => { process.stdout.write(JSON.stringify(specs.TrustedRoot.toJSON(tr))); })
  .catch((e) => { console.error(String(e.stack || e)); process.exit(1); });
"""


def _sigstore_tuf_module() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("Node.js is not installed")
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30)
    for candidate in (
        Path(root.stdout.strip()) / "@sigstore" / "tuf",
        Path(root.stdout.strip()) / "npm" / "node_modules" / "@sigstore" / "tuf",
    ):
        if (candidate / "package.json").is_file():
            return str(candidate)
    pytest.skip("@sigstore/tuf is not installed with Node.js")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TufRepository, Instance, str]]:
    inst = Instance("http://127.0.0.1:8080")
    repo = TufRepository(tmp_path / "tuf", TufKeys.generate())
    repo.create(
        {
            TRUSTED_ROOT_FILE: dumps(inst.trusted_root()),
            SIGNING_CONFIG_FILE: dumps(inst.signing_config()),
        }
    )
    with serve_app(Starlette(routes=routes(repo.path))) as url:
        yield repo, inst, url


def _get_trusted_root(module: str, url: str, root: Path, cache: Path) -> dict:
    result = subprocess.run(
        ["node", "-e", SCRIPT, module, f"{url}/tuf", str(root), str(cache)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sigstore_js_fetches_trusted_root(
    served: tuple[TufRepository, Instance, str], tmp_path: Path
) -> None:
    module = _sigstore_tuf_module()
    repo, inst, url = served
    got = _get_trusted_root(module, url, repo.path / "1.root.json", tmp_path / "js-cache")
    ours = inst.trusted_root()
    assert got["mediaType"] == ours["mediaType"]
    assert [t["logId"]["keyId"] for t in got["tlogs"]] == [
        t["logId"]["keyId"] for t in ours["tlogs"]
    ]
    assert (
        got["certificateAuthorities"][0]["certChain"]
        == ours["certificateAuthorities"][0]["certChain"]
    )
    # A refresh and a new trusted root later, the cached client follows.
    clock_later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=13)
    TufRepository(repo.path, repo.keys, clock=lambda: clock_later).refresh()
    rotated = Instance("http://127.0.0.1:8080")
    repo.update_targets({TRUSTED_ROOT_FILE: dumps(rotated.trusted_root())})
    got = _get_trusted_root(module, url, repo.path / "1.root.json", tmp_path / "js-cache")
    assert got["ctlogs"][0]["logId"] == rotated.trusted_root()["ctlogs"][0]["logId"]
