"""The files in deploy/ work: the systemd unit passes ``systemd-analyze verify`` and stays
hardened, the Prometheus rules pass promtool (and their unit tests), and every metric the
rules and the Grafana dashboard use is one a live instance exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.instance import client_env, served_instance

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "sceau.service"
RULES = DEPLOY / "prometheus" / "sceau-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "sceau.json"
HARDENING = (
    "DynamicUser=yes",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=\n",
    "UMask=0077",
    "SystemCallFilter=@system-service",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
)


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: tools/install-test-deps installs Debian's {package}"
    return path


def unit_for_here(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this venv's sceau (verify checks it exists)."""
    text = text if text is not None else UNIT.read_text()
    assert "/opt/sceau/bin/sceau serve" in text
    unit = tmp_path / "sceau.service"
    unit.write_text(
        text.replace("/opt/sceau/bin/sceau", str(Path(sys.executable).parent / "sceau"))
    )
    return unit


def test_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    done = subprocess.run(
        [analyze, "verify", str(unit_for_here(tmp_path))], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    # the check can fail: a misspelt directive is reported
    broken = unit_for_here(tmp_path, UNIT.read_text().replace("NoNewPrivileges", "NoNewPrivilege"))
    done = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True)
    assert "NoNewPrivilege" in done.stderr


def test_systemd_unit_is_hardened(tmp_path: Path) -> None:
    text = UNIT.read_text()
    for directive in HARDENING:
        assert f"\n{directive}" in text, directive
    assert "--log-format json" in text and "--host 127.0.0.1" in text
    analyze = tool("systemd-analyze", "systemd")
    done = subprocess.run(
        [analyze, "security", "--offline=yes", str(unit_for_here(tmp_path))],
        capture_output=True, text=True,
    )  # fmt: skip
    score = re.search(r"Overall exposure level for sceau\.service: ([0-9.]+)", done.stdout)
    assert score, done.stdout[-500:] + done.stderr
    assert float(score.group(1)) <= 2.0, done.stdout[-2000:]


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = tool("promtool", "prometheus")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run(
        [promtool, "test", "rules", "sceau-rules.test.yml"],
        capture_output=True, text=True, cwd=RULES.parent,
    )  # fmt: skip
    assert unit.returncode == 0 and "SUCCESS" in unit.stdout, unit.stdout + unit.stderr


def metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b(sceau_[a-z0-9_]+)", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def test_dashboard_and_rules_use_only_metrics_the_server_exposes(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= metric_names(target["expr"])
    used |= metric_names(RULES.read_text())
    assert len(used) >= 10
    with served_instance(tmp_path, client_env(tmp_path)) as (_, url):
        text = httpx.get(f"{url}/metrics", timeout=30).text
    exposed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    exposed |= {n.removesuffix("_total") for n in exposed} | {n + "_total" for n in exposed}
    assert used <= exposed, sorted(used - exposed)


@pytest.mark.parametrize("path", [RULES, DASHBOARD])
def test_deploy_files_are_documented(path: Path) -> None:
    assert str(path.relative_to(ROOT)) in (ROOT / "docs" / "operations.md").read_text()


def test_every_file_the_package_reads_is_in_its_wheel() -> None:
    """Package data is listed in pyproject.toml: a file left out works from the source tree
    and breaks an installed sceau (the container image found the explorer's static files)."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["sceau"]
    package = root / "src" / "sceau"
    for path in package.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(rel, g.replace("**/", "*")) for g in globs), rel
