"""Cutting a LibreTranslate text into the pieces the model translates, and putting the translations back.

A `Template` is the text with its translatable pieces (segments) taken out: what stays (line breaks, the
whitespace around a line, HTML markup) is kept byte for byte. Plain text is translated line by line, as
Argos Translate does with paragraphs. HTML keeps every tag, comment and attribute as it was and translates
the text between tags; the content of `script`, `style`, `code`, `pre`, `textarea` and of elements marked
`translate="no"` or `class="notranslate"` is left alone, and so is text without a letter or digit (a
lone "." between two tags, a bullet). A line longer than the model reads is split at
sentence ends (`.`, `!`, `?`, `;`, `:`, `…` followed by whitespace) before giving up on it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Fits = Callable[[str], bool]

_TAG = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[!/?]?[A-Za-z](?:\"[^\"]*\"|'[^']*'|[^'\">])*>", re.S)
_TAG_NAME = re.compile(r"^</?\s*([A-Za-z][A-Za-z0-9:-]*)")
_NO_TRANSLATE = re.compile(r"""\btranslate\s*=\s*["']?no\b|\bclass\s*=\s*["'][^"']*\bnotranslate\b""", re.I)
_SKIP = frozenset({"script", "style", "code", "pre", "textarea"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})
_SENTENCE_END = re.compile(r"(?<=[.!?;:…])(\s+)")


class SegmentTooLong(ValueError):
    """A piece of text longer than the model reads, even split at sentence ends."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass
class Template:
    """A text as literal parts and numbered segments to translate; `fill` puts translations in their place."""

    escape: bool = False
    parts: list[str | int] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)

    def literal(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def add(self, text: str, fits: Fits) -> None:
        """A piece to translate, with its surrounding whitespace kept; split at sentence ends if too long."""
        core = text.strip()
        if not any(c.isalnum() for c in core):  # blank, or punctuation and symbols only: nothing to translate
            self._text(text)
            return
        start = text.index(core[0])
        self._text(text[:start])
        if fits(core):
            self._segment(core)
        else:
            pieces = _SENTENCE_END.split(core)
            if len(pieces) == 1:
                raise SegmentTooLong(core)
            for i, piece in enumerate(pieces):
                if i % 2 or not any(c.isalnum() for c in piece):
                    self._text(piece)
                elif not fits(piece):
                    raise SegmentTooLong(piece)
                else:
                    self._segment(piece)
        self._text(text[start + len(core):])

    def _text(self, text: str) -> None:
        """Source text kept as it is (escaped again in HTML, where it was read unescaped)."""
        self.literal(html.escape(text, quote=False) if self.escape else text)

    def _segment(self, text: str) -> None:
        self.parts.append(len(self.segments))
        self.segments.append(text)

    def fill(self, translations: Sequence[str]) -> str:
        """The text with segment i replaced by `translations[i]` (HTML-escaped in an HTML template)."""
        out = []
        for part in self.parts:
            if isinstance(part, int):
                text = translations[part]
                out.append(html.escape(text, quote=False) if self.escape else text)
            else:
                out.append(part)
        return "".join(out)


def template(text: str, text_format: str, fits: Fits) -> Template:
    """The template of `text` in `text_format` ("text" or "html")."""
    return html_template(text, fits) if text_format == "html" else plain_template(text, fits)


def plain_template(text: str, fits: Fits) -> Template:
    """One segment per non-blank line; line breaks and the whitespace around each line are kept."""
    out = Template()
    for i, line in enumerate(text.split("\n")):
        if i:
            out.literal("\n")
        out.add(line, fits)
    return out


def html_template(text: str, fits: Fits) -> Template:
    """One segment per text node outside the elements that are not translated; markup is kept as it is."""
    out = Template(escape=True)
    skipping: list[str] = []  # open elements whose content is not translated
    position = 0
    for match in _TAG.finditer(text):
        _text_node(out, text[position:match.start()], bool(skipping), fits)
        tag = match.group(0)
        out.literal(tag)
        _track(tag, skipping)
        position = match.end()
    _text_node(out, text[position:], bool(skipping), fits)
    return out


def _text_node(out: Template, raw: str, skipped: bool, fits: Fits) -> None:
    """A text node: its words become a segment; the whitespace around them (`&nbsp;` included) stays."""
    text = html.unescape(raw)
    core = text.strip()
    if skipped or not core:
        out.literal(raw)
        return
    start = text.index(core[0])
    out.literal(text[:start])  # whitespace only: nothing to escape
    out.add(" ".join(core.split()), fits)
    out.literal(text[start + len(core):])


def _track(tag: str, skipping: list[str]) -> None:
    """Update the stack of open non-translated elements with one tag."""
    name_match = _TAG_NAME.match(tag)
    if name_match is None or tag.startswith("<!"):
        return
    name = name_match.group(1).lower()
    if tag.startswith("</"):
        if name in skipping:  # also closes children left open inside it
            del skipping[len(skipping) - 1 - skipping[::-1].index(name):]
        return
    if tag.endswith("/>") or name in _VOID:
        return
    if skipping or name in _SKIP or _NO_TRANSLATE.search(tag):
        skipping.append(name)
