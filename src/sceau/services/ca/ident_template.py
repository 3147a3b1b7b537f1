"""The subset of Go ``text/template`` that Fulcio's ``ci-issuer-metadata`` uses.

Fulcio renders SAN and extension values from CI-token claims with Go templates
(``pkg/identity/ciprovider/principal.go``, ``missingkey=error``). The public config only
uses: ``{{ .claim }}``, ``{{ index . "dotted/claim" }}`` (optionally parenthesised),
``{{ if eq A B }}…{{ else }}…{{ end }}`` and string literals. That is what this module
implements, so operators can paste Fulcio's ``config.yaml`` maps unchanged.

Semantics kept from Go: ``.name`` on a missing key is an error; ``index`` on a missing key
yields ``""``. Not kept: Fulcio executes them with ``html/template``, which HTML-escapes
the output (``&`` → ``&amp;``); we render plain text, which is what the values mean.

A template value without ``{{`` is not a template but the name of a claim to copy
(:func:`render_value`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass


class TemplateError(ValueError):
    """A template does not parse, or a claim it needs is missing."""


@dataclass(frozen=True)
class _Field:
    name: str  # "" means "." (the whole data map, only valid as index's first argument)


@dataclass(frozen=True)
class _Literal:
    value: str


@dataclass(frozen=True)
class _Call:
    func: str  # "index" | "eq"
    args: tuple[_Expr, ...]


_Expr = _Field | _Literal | _Call


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Output:
    expr: _Expr


@dataclass(frozen=True)
class _If:
    cond: _Expr
    then: tuple[_Node, ...]
    otherwise: tuple[_Node, ...]


_Node = _Text | _Output | _If

_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|(\.[A-Za-z_][A-Za-z0-9_]*|\.)|([a-z]+))')


def _tokenize(src: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise TemplateError(f"cannot parse template action {src!r} at {src[pos:]!r}")
        pos = m.end()
        lpar, rpar, string, field, ident = m.groups()
        if lpar:
            tokens.append(("(", "("))
        elif rpar:
            tokens.append((")", ")"))
        elif string is not None:
            tokens.append(("str", re.sub(r"\\(.)", r"\1", string)))
        elif field is not None:
            tokens.append(("field", field[1:]))
        else:
            tokens.append(("ident", ident))
    return tokens


class _ExprParser:
    def __init__(self, tokens: list[tuple[str, str]], src: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.src = src

    def fail(self, why: str) -> TemplateError:
        return TemplateError(f"template action {self.src!r}: {why}")

    def pipeline(self) -> _Expr:
        """A command: a function call with arguments, or a single operand."""
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "ident":
            func = self.tokens[self.pos][1]
            if func not in ("index", "eq"):
                raise self.fail(f"unsupported function {func!r}")
            self.pos += 1
            args: list[_Expr] = []
            while self.pos < len(self.tokens) and self.tokens[self.pos][0] != ")":
                args.append(self.operand())
            if len(args) != 2:
                raise self.fail(f"{func} takes 2 arguments, got {len(args)}")
            return _Call(func, tuple(args))
        return self.operand()

    def operand(self) -> _Expr:
        if self.pos >= len(self.tokens):
            raise self.fail("missing operand")
        kind, value = self.tokens[self.pos]
        self.pos += 1
        if kind == "str":
            return _Literal(value)
        if kind == "field":
            return _Field(value)
        if kind == "(":
            inner = self.pipeline()
            if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != ")":
                raise self.fail("unbalanced parenthesis")
            self.pos += 1
            return inner
        raise self.fail(f"unexpected {value!r}")

    def done(self) -> None:
        if self.pos != len(self.tokens):
            raise self.fail("trailing tokens")


def _parse_expr(src: str) -> _Expr:
    parser = _ExprParser(_tokenize(src), src)
    expr = parser.pipeline()
    parser.done()
    return expr


@dataclass(frozen=True)
class Template:
    """A parsed template; :meth:`render` evaluates it over string-valued data."""

    source: str
    nodes: tuple[_Node, ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        pieces: list[tuple[str, str]] = []  # ("text", s) | ("action", s)
        pos = 0
        for m in _ACTION.finditer(source):
            if m.start() > pos:
                pieces.append(("text", source[pos : m.start()]))
            pieces.append(("action", m.group(1).strip()))
            pos = m.end()
        if "{{" in source[pos:] or "}}" in source[pos:]:
            raise TemplateError(f"unbalanced braces in template {source!r}")
        if pos < len(source):
            pieces.append(("text", source[pos:]))
        nodes, rest, stop = cls._block(pieces)
        if stop is not None or rest:
            raise TemplateError(f"unexpected {{{{{stop}}}}} in template {source!r}")
        return cls(source, nodes)

    @classmethod
    def _block(
        cls, pieces: list[tuple[str, str]]
    ) -> tuple[tuple[_Node, ...], list[tuple[str, str]], str | None]:
        """Parse until ``else``/``end``; return (nodes, remaining pieces, stop word)."""
        nodes: list[_Node] = []
        while pieces:
            kind, text = pieces[0]
            pieces = pieces[1:]
            if kind == "text":
                nodes.append(_Text(text))
            elif text in ("else", "end"):
                return tuple(nodes), pieces, text
            elif text.startswith("if ") or text.startswith("if("):
                cond = _parse_expr(text[2:])
                then, pieces, stop = cls._block(pieces)
                otherwise: tuple[_Node, ...] = ()
                if stop == "else":
                    otherwise, pieces, stop = cls._block(pieces)
                if stop != "end":
                    raise TemplateError("{{if}} without {{end}}")
                nodes.append(_If(cond, then, otherwise))
            else:
                nodes.append(_Output(_parse_expr(text)))
        return tuple(nodes), pieces, None

    def render(self, data: Mapping[str, str]) -> str:
        return "".join(_render(node, data) for node in self.nodes)


def _render(node: _Node, data: Mapping[str, str]) -> str:
    if isinstance(node, _Text):
        return node.text
    if isinstance(node, _Output):
        value = _eval(node.expr, data)
        if not isinstance(value, str):
            raise TemplateError("a template printed the whole claim map")
        return value
    branch = node.then if _truthy(_eval(node.cond, data)) else node.otherwise
    return "".join(_render(n, data) for n in branch)


def _truthy(value: object) -> bool:
    return bool(value)


def _eval(expr: _Expr, data: Mapping[str, str]) -> object:
    if isinstance(expr, _Literal):
        return expr.value
    if isinstance(expr, _Field):
        if expr.name == "":
            return data
        if expr.name not in data:
            raise TemplateError(f"claim {expr.name!r} is missing")
        return data[expr.name]
    a, b = (_eval(arg, data) for arg in expr.args)
    if expr.func == "eq":
        return a == b
    if not isinstance(a, Mapping) or not isinstance(b, str):
        raise TemplateError('index needs the form (index . "key")')
    return a.get(b, "")


@functools.lru_cache(maxsize=1024)
def _parsed(template: str) -> Template:
    return Template.parse(template)


def render_value(template: str, data: Mapping[str, str]) -> str:
    """Fulcio's ``applyTemplateOrReplace``: a template if it has ``{{``, else a claim name."""
    if "{{" in template:
        return _parsed(template).render(data)
    if template not in data:
        raise TemplateError(f"claim {template!r} is missing")
    return data[template]


def check_template(template: str) -> None:
    """Raise :class:`TemplateError` if ``template`` would not parse (config-load check)."""
    if "{{" in template:
        Template.parse(template)
