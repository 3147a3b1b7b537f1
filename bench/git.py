"""Signing git commits through ``sceau-git`` with the credential cache, against plain commits.

Starts a sceau instance (`sceau init` + `sceau serve`) and a credential cache on a temporary
socket, then in a fresh repository makes N commits with ``git commit -S`` (one login: the
identity token file is deleted after the first commit, so every later one must come from
the cache) and N commits without signing, and prints the time per commit of each and
their ratio. Each signed commit still logs its own entry (Rekor v1 by default) and is
verified by sceau-git before git gets it.

    python bench/git.py [--commits 100] [--rekor-version 1|2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.image import instance

BIN = Path(sys.executable).parent
EMAIL = "bench@example.com"


@contextlib.contextmanager
def credential_cache(socket: Path) -> Iterator[None]:
    proc = subprocess.Popen(
        [str(BIN / "sceau-git"), "credential-cache", "--socket", str(socket)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        proc.stderr.readline()  # "credential cache listening on …": bound and ready
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def commits(repo: Path, env: dict[str, str], n: int, sign: bool, tag: str) -> float:
    """Seconds per ``git commit`` (each with a changed file: a real commit each time)."""
    flag = "-S" if sign else "--no-gpg-sign"
    total = 0.0
    for i in range(n):
        (repo / f"{tag}.txt").write_text(f"{i}\n")
        subprocess.run(["git", "add", f"{tag}.txt"], cwd=repo, env=env, check=True)
        begin = time.perf_counter()
        subprocess.run(["git", "commit", "-q", flag, "-m", f"{tag} {i}"], cwd=repo, env=env,
                       check=True)  # fmt: skip
        total += time.perf_counter() - begin
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--rekor-version", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        socket = tmp / "run" / "cache.sock"
        with instance(tmp) as (directory, _url), credential_cache(socket):
            home = tmp / "home"
            home.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGSTORE_", "SCEAU_"))}
            env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
                       GIT_CONFIG_NOSYSTEM="1", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                       GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL=EMAIL,
                       GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL=EMAIL)  # fmt: skip
            repo = tmp / "repo"
            repo.mkdir()
            token = subprocess.run(
                [sys.executable, "-m", "sceau", "dev-token", "--dir", str(directory),
                 "--email", EMAIL], capture_output=True, check=True,
            ).stdout.decode().strip()  # fmt: skip
            token_file = tmp / "token"
            token_file.write_text(token)
            for cmd in (
                ["init", "-q", "-b", "main"],
                ["config", "gpg.format", "x509"],
                ["config", "gpg.x509.program", "sceau-git"],
                ["config", "sceau.instanceDir", str(directory)],
                ["config", "sceau.identityToken", f"file:{token_file}"],
                ["config", "sceau.credentialCache", str(socket)],
                ["config", "sceau.rekorVersion", str(args.rekor_version)],
            ):
                subprocess.run(["git", *cmd], cwd=repo, env=env, check=True)
            login = commits(repo, env, 1, True, "login")  # the one login, not counted below
            token_file.unlink()  # from here on, only the cache can sign
            signed = commits(repo, env, args.commits, True, "signed")
            plain = commits(repo, env, args.commits, False, "plain")
            check = subprocess.run(["git", "log", "--format=%G?", f"--skip={args.commits}",
                                    f"-{args.commits + 1}"],
                                   cwd=repo, env=env, capture_output=True, check=True)  # fmt: skip
            signed_ok = check.stdout.decode().split().count("G")
    print(f"first commit (login + certificate): {login * 1000:.0f} ms")
    print(f"{args.commits} signed commits (Rekor v{args.rekor_version}, cached credential): "
          f"{signed * 1000:.0f} ms/commit")  # fmt: skip
    print(f"{args.commits} plain commits: {plain * 1000:.1f} ms/commit")
    print(f"ratio signed/plain: {signed / plain:.0f}x")
    print(
        f"git log %G?: {signed_ok} of the {args.commits + 1} signed commits show a good signature"
    )


if __name__ == "__main__":
    main()
