"""HTML mail for display (sanitised with nh3) and as plain text (for the chat and the filter)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

# Remote images are web bugs: they tell the sender when and where an operator read the mail.
# Only images carried in the mail itself (cid:) keep their source.
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "cid", "tel"}
# Blockquotes become "> " lines, so the quote trimmer treats HTML mail like plain text.
_QUOTE_IN = "\n\x00quote+\n"
_QUOTE_OUT = "\n\x00quote-\n"
_DROP_CONTENT = {"script", "style", "head", "title", "template", "noscript"}


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src" and not value.lower().startswith("cid:"):
        return None
    return value


def sanitize_html(markup: str) -> str:
    """Markup safe to show inside the dashboard: no scripts, handlers, forms, frames or remote images."""
    if not markup:
        return ""
    try:
        return nh3.clean(
            markup,
            url_schemes=ALLOWED_URL_SCHEMES,
            attribute_filter=_attribute_filter,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    except Exception:  # nh3 refuses some inputs (lone surrogates): show the text instead
        return html.escape(html_to_text(markup)).replace("\n", "<br>")


class _TextExtractor(HTMLParser):
    BLOCKS = {
        "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _DROP_CONTENT:
            self.skip += 1
            return
        if tag == "blockquote":
            self.parts.append(_QUOTE_IN)
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "blockquote":
            self.parts.append(_QUOTE_OUT)
        if tag == "a" and self.href:
            text = "".join(self.link_text).strip()
            if self.href.startswith(("http://", "https://")) and self.href != text:
                self.parts.append(f" ({self.href})")
            self.href = None
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = re.sub(r"\s+", " ", data)
        if self.href is not None:
            self.link_text.append(data)
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    if not markup:
        return ""
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:  # HTMLParser is lenient, but a text version must come out whatever happens
        return re.sub(r"<[^>]*>", " ", markup)
    depth = 0
    lines = []
    for line in "".join(extractor.parts).splitlines():
        if line == _QUOTE_IN.strip():
            depth += 1
        elif line == _QUOTE_OUT.strip():
            depth = max(0, depth - 1)
        else:
            line = " ".join(line.split())
            if line or not depth:
                lines.append(("> " * depth + line) if line else "")
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
