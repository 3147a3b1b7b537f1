"""A served sceau instance and throwaway git repositories that sign through ``sceau-git``.

Every git runs with its own HOME and ``GIT_CONFIG_GLOBAL`` (nothing from the runner's git
config), and finds ``sceau-git`` on PATH next to this interpreter.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.instance import ServedInstance, client_env, served_instance

EMAIL = "dev@example.com"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    with served_instance(tmp_path_factory.mktemp("instance")) as (directory, url):
        yield ServedInstance(directory, url)


@dataclass
class Repo:
    """A git repository and the environment its commands run in."""

    path: Path
    env: dict[str, str]
    extra_env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            args, cwd=self.path, input=input, capture_output=True, timeout=120,
            env={**self.env, **self.extra_env, **env},
        )  # fmt: skip
        if check and proc.returncode != 0:
            pytest.fail(
                f"{' '.join(args)} exited {proc.returncode}:\n"
                f"{proc.stdout.decode(errors='replace')}\n{proc.stderr.decode(errors='replace')}"
            )
        return proc

    def git(self, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
        return self.run("git", *args, **kw)  # type: ignore[arg-type]

    def out(self, *args: str) -> str:
        return self.git(*args).stdout.decode().strip()

    def sceau_git(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[bytes]:
        return self.run(str(BIN / "sceau-git"), *args, input=b"", check=check)

    def commit(self, name: str, *, sign: bool = True) -> str:
        (self.path / name).write_text(name + "\n")
        self.git("add", name)
        self.git("commit", "-q", "-S" if sign else "--no-gpg-sign", "-m", f"add {name}")
        return self.out("rev-parse", "HEAD")


def make_repo(base: Path, extra_env: dict[str, str] | None = None) -> Repo:
    """An empty repository configured the documented way (docs/git.md, three lines)."""
    assert shutil.which("git"), "git is not installed"
    home = base / "home"
    home.mkdir(parents=True)
    env = client_env(home, extra_path=BIN)
    env.update(
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL=EMAIL,
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL=EMAIL,
    )
    path = base / "repo"
    path.mkdir()
    repo = Repo(path, env, dict(extra_env or {}))
    repo.git("init", "-q", "-b", "main")
    return repo


def configure(repo: Repo, instance: ServedInstance, rekor_version: int | None = None) -> None:
    repo.git("config", "gpg.format", "x509")
    repo.git("config", "gpg.x509.program", "sceau-git")
    repo.git("config", "sceau.instanceDir", str(instance.dir))
    repo.git("config", "sceau.identityToken", f"dev:{EMAIL}")
    if rekor_version is not None:
        repo.git("config", "sceau.rekorVersion", str(rekor_version))
