"""The ``BROWSER`` the CLI under test opens: it hands the login URL to the test (a file)
instead of starting a desktop browser. Usage (as ``$BROWSER``): python browser_handoff.py OUT %s"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    out, url = Path(sys.argv[1]), sys.argv[2]
    tmp = out.with_suffix(".tmp")
    tmp.write_text(url)
    tmp.replace(out)  # the test sees the whole URL or nothing
