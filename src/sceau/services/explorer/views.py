"""The explorer's pages, as functions of decoded data (escaping through :mod:`.html`)."""

from __future__ import annotations

import base64
from typing import Any

from sceau.services.explorer.catalog import Record
from sceau.services.explorer.certs import CertView, iso_ms
from sceau.services.explorer.html import code, dl, esc, link, message, page, table, url_q
from sceau.services.explorer.query import PAGE_SIZE
from sceau.services.explorer.search import Results
from sceau.services.explorer.stats import HOUR_MS, Series


def entry_href(r: Record) -> str:
    return f"/entry/{r.uuid}"


def _row(r: Record) -> list[str]:
    when = iso_ms(r.time_ms) if r.time_ms else "-"
    return [
        esc(r.view.label),
        link(entry_href(r), r.index),
        esc(f"{r.decoded.kind} {r.decoded.version}".strip()),
        esc(r.decoded.identity),
        esc(when),
    ]


HEAD = ["Log", "Index", "Kind", "Identity", "Integrated"]


def results(res: Results) -> str:
    q = res.query
    title = f"Results for {q.value}"
    if not res.records:
        body = message("info", f"No entry matches this {q.kind.replace('_', ' ')}.")
        return page(title, f"<h1>{esc(title)}</h1>{body}", q=q.value)
    first = (res.page - 1) * PAGE_SIZE + 1
    caption = f"Entries {first}–{first + len(res.records) - 1} ({q.kind.replace('_', ' ')})"
    nav = []
    base = f"/search?q={url_q(q.value)}"
    if res.page > 1:
        nav.append(f'<a rel="prev" href="{esc(base)}&amp;page={res.page - 1}">Previous</a>')
    if res.more:
        nav.append(f'<a rel="next" href="{esc(base)}&amp;page={res.page + 1}">Next</a>')
    pager = f'<nav class="pager" aria-label="Pages">{" ".join(nav)}</nav>' if nav else ""
    body = f"<h1>{esc(title)}</h1>" + table(caption, HEAD, map(_row, res.records)) + pager
    return page(title, body, q=q.value)


def _cert(c: CertView) -> str:
    rows = [
        ("Identity", "<br>".join(code(i) for i in c.identities) or "-"),
        ("OIDC issuer", code(c.oidc_issuer or "-")),
        ("Valid", f"{esc(c.not_before)} – {esc(c.not_after)}"),
        ("Serial", code(c.serial)),
        ("SHA-256 fingerprint", code(c.fingerprint)),
        ("Issuer", esc(c.issuer)),
    ]
    out = '<section aria-labelledby="cert-h"><h2 id="cert-h">Signing certificate</h2>'
    out += dl(rows)
    if c.extensions:
        ext_rows = [[esc(name), code(value), code(oid)] for oid, name, value in c.extensions]
        out += table("Fulcio extensions", ["Name", "Value", "OID"], ext_rows)
    if c.scts:
        sct_rows = [[code(s.log_id), esc(s.time)] for s in c.scts]
        out += table("Signed certificate timestamps", ["CT log ID", "Time"], sct_rows)
    out += f"<details><summary>Certificate (PEM)</summary><pre>{esc(c.pem)}</pre></details>"
    return out + "</section>"


def _content(r: Record) -> str:
    d = r.decoded
    rows: list[tuple[str, str]] = []
    if d.digest:
        rows.append(("Artifact digest", code(f"{d.digest[0]}:{d.digest[1]}")))
    for name, value in d.dsse.items():
        rows.append((f"DSSE {name}", code(value)))
    for n, sig in enumerate(d.signatures, 1):
        rows.append((f"Signature {n}", f'<code class="wrap">{esc(sig)}</code>'))
    for k, v in d.ct.items():
        rows.append((f"CT {k}", code(v)))
    if not rows and not d.note:
        return ""
    out = '<section aria-labelledby="sig-h"><h2 id="sig-h">Signature and content</h2>'
    out += dl(rows)
    if d.subjects:
        out += table(
            "in-toto subjects", ["Name", "Digest"], [[esc(n), code(g)] for n, g in d.subjects]
        )
    if d.public_key:
        out += f"<details><summary>Public key</summary><pre>{esc(d.public_key)}</pre></details>"
    if d.note:
        out += message("info", d.note)
    return out + "</section>"


def entry(r: Record, links: list[Record], bundle: bool) -> str:
    d = r.decoded
    title = f"{r.view.label} entry {r.index}"
    when = iso_ms(r.time_ms) if r.time_ms else "-"
    rows = [
        ("Log", esc(r.view.label)),
        ("Index", esc(r.index)),
        ("UUID (leaf hash)", code(r.uuid)),
        ("Kind", esc(f"{d.kind} {d.version}".strip())),
        ("Integrated", esc(when)),
    ]
    leaf = base64.b64encode(r.body).decode()
    verify = (
        f'<section id="verification" aria-labelledby="v-h" data-log="{esc(r.view.name)}"'
        f' data-index="{r.index}" data-uuid="{esc(r.uuid)}" data-leaf="{esc(leaf)}">'
        '<h2 id="v-h">Verification in your browser</h2>'
        "<p>Inclusion proof and checkpoint signature: "
        '<output id="verify-status" aria-live="polite">not checked</output></p>'
        "<noscript><p>The in-browser check needs JavaScript; everything else on this page "
        'works without it.</p></noscript><ol id="verify-steps"></ol></section>'
    )
    body = f"<h1>{esc(title)}</h1>" + dl(rows) + verify
    if d.certificate:
        body += _cert(d.certificate)
    body += _content(r)
    if links:
        what = (
            "CT log entry of its certificate"
            if r.view.family == "rekor"
            else ("Rekor entries signed with this certificate")
        )
        items = "".join(
            f"<li>{link(entry_href(x), f'{x.view.label} entry {x.index}')}</li>" for x in links
        )
        body += '<section aria-labelledby="l-h">'
        body += f'<h2 id="l-h">{esc(what)}</h2><ul>{items}</ul></section>'
    dl_links = [
        link(f"/api/explorer/v1/entries/{r.uuid}?log={r.view.name}", "Entry and proof (JSON)")
    ]
    if bundle:
        dl_links.insert(0, link(f"/entry/{r.uuid}/bundle?log={r.view.name}", "Sigstore bundle"))
    body += (
        '<section aria-labelledby="d-h"><h2 id="d-h">Download</h2><ul>'
        + "".join(f"<li>{x}</li>" for x in dl_links)
        + "</ul></section>"
    )
    text = esc(r.body.decode("utf-8", "replace"))
    body += f'<details><summary>Entry body</summary><pre class="wrap">{text}</pre></details>'
    return page(title, body, script=True)


def chart(name: str, s: Series) -> str:
    """Entries per hour as an inline SVG bar chart (with a text summary for screen readers)."""
    width, height = 720, 120
    n = len(s.counts)
    peak = max(s.counts) or 1
    bar = width / n
    bars = []
    for i, c in enumerate(s.counts):
        if c:
            h = max(1.0, c / peak * (height - 20))
            when = iso_ms(s.start_ms + i * HOUR_MS)
            bars.append(
                f'<rect x="{i * bar:.1f}" y="{height - h:.1f}" width="{max(bar - 1, 1):.1f}"'
                f' height="{h:.1f}"><title>{esc(when)}: {c}</title></rect>'
            )
    total = sum(s.counts)
    label = (
        f"{name}: {total} entries in the last {n // 24} days, at most {max(s.counts)} in one hour"
    )
    return (
        f'<figure><svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img"'
        f' aria-label="{esc(label)}"'
        f' class="chart">{"".join(bars)}<line x1="0" y1="{height}" x2="{width}" y2="{height}"/>'
        f"</svg><figcaption>{esc(label)} (from {esc(iso_ms(s.start_ms))})</figcaption></figure>"
    )


def instance(info: dict[str, Any], charts: list[str]) -> str:
    logs = [
        [
            esc(x["label"]),
            esc(x["size"]),
            code(x["origin"]),
            f'<pre class="note">{esc(x["checkpoint"])}</pre>',
        ]
        for x in info["logs"]
    ]
    body = "<h1>Instance</h1>" + dl(
        [("URL", code(info["url"])), ("Version", code(f"sceau {info['version']}"))]
    )
    body += '<section aria-labelledby="logs-h"><h2 id="logs-h">Logs</h2>'
    body += table(
        "Each log's size and latest checkpoint", ["Log", "Size", "Origin", "Checkpoint"], logs
    )
    body += "<h3>Entries per hour</h3>" + "".join(charts) + "</section>"
    keys = [
        [esc(k["role"]), code(k["id"]), esc(k["start"]), esc(k["end"] or "open")]
        for k in info["keys"]
    ]
    body += '<section aria-labelledby="keys-h"><h2 id="keys-h">Keys in the trusted root</h2>'
    body += (
        table(
            "Validity periods (a rotation shows as an ended key and its successor)",
            ["Role", "Key / log ID", "Valid from", "Valid until"],
            keys,
        )
        + "</section>"
    )
    tuf = [[esc(r), esc(v), esc(e)] for r, v, e in info["tuf"]]
    body += '<section aria-labelledby="tuf-h"><h2 id="tuf-h">TUF metadata</h2>'
    body += table("Expiry of the TUF roles", ["Role", "Version", "Expires"], tuf) + "</section>"
    body += '<section aria-labelledby="cmd-h"><h2 id="cmd-h">Sign against this instance</h2>'
    body += f"<pre>{esc(info['commands'])}</pre></section>"
    return page("Instance", body)


def home(sizes: list[tuple[str, int]], recent: list[Record]) -> str:
    body = "<h1>Search the transparency logs</h1>"
    body += "<p>By e-mail or identity, artifact SHA-256, log index, entry UUID, or "
    body += "<code>serial:&lt;hex&gt;</code> of a signing certificate.</p>"
    body += dl([(name, esc(size)) for name, size in sizes])
    if recent:
        body += table("Latest entries", HEAD, map(_row, recent))
    return page("Search", body)


def error(status: int, text: str, q: str = "") -> str:
    title = "Not found" if status == 404 else "Cannot show this"
    return page(title, f"<h1>{esc(title)}</h1>" + message("error", text), q=q)
