"""Small HTML building blocks with escaping built in: every value goes through ``esc``.

No template engine: pages are a few functions of already-decoded data, and the only way to
put text into a page is through these helpers, which escape it (``<script>`` in a query
comes back as text).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from urllib.parse import quote

STATIC = "/_explorer"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def url_q(value: str) -> str:
    return quote(value, safe="")


def dl(rows: Iterable[tuple[str, str]]) -> str:
    """A definition list; the values are HTML already (built with ``esc``)."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def table(caption: str, head: list[str], rows: Iterable[list[str]]) -> str:
    th = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<div class="scroll"><table><caption>{esc(caption)}</caption>'
        f"<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def code(value: object) -> str:
    return f"<code>{esc(value)}</code>"


def link(href: str, text: object) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def page(title: str, body: str, *, q: str = "", script: bool = False, status: str = "") -> str:
    """The whole document: header with the search form, ``body`` as main content."""
    js = f'<script src="{STATIC}/verify.js" defer></script>' if script else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · sceau explorer</title>
<link rel="stylesheet" href="{STATIC}/style.css">{js}
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Explorer"><a href="/" class="brand">sceau explorer</a>
<a href="/instance">Instance</a></nav>
<form role="search" action="/search" method="get">
<label for="q">Search the logs</label>
<input id="q" name="q" type="search" value="{esc(q)}" maxlength="512" autocomplete="off"
 placeholder="e-mail, identity, SHA-256, log index, UUID, serial:…">
<button type="submit">Search</button></form></header>
<main id="main" tabindex="-1">{status}{body}</main>
<footer><p>Every page is a permalink. Entries are verified in your browser against this
instance's trusted root.</p></footer>
</body></html>"""


def message(kind: str, text: str) -> str:
    """A readable notice (``kind``: error or info), announced to screen readers."""
    role = "alert" if kind == "error" else "status"
    return f'<p class="msg {esc(kind)}" role="{role}">{esc(text)}</p>'
