"""``sceau version``: what is installed, for bug reports and for scripts (``--output json``)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata

# The libraries whose versions change what sceau accepts or produces.
COMPONENTS = ("cryptography", "sigstore-models", "rfc3161-client", "tuf", "starlette", "uvicorn")


def version_info() -> dict[str, str]:
    from sceau import __version__

    info = {"sceau": __version__, "python": platform.python_version()}
    for name in COMPONENTS:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    info = version_info()
    if args.output == "json":
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for name, value in info.items():
            print(f"{name:<{width}}  {value}", file=sys.stdout)
    return 0
