#!/usr/bin/env python3
"""Find what a built site (the book, the slides) would load from outside, and its broken links.

    python tools/offline_check.py artifacts/book      # exit 1 and list every problem

A course page must work in a room with no network, so a *resource* a page loads (a script, a
style sheet, a font, an image, a frame, a CSS ``@import`` or ``url()``) must be a file of the site
itself. A plain hyperlink to a cited mail (``<a href="https://lore.kernel.org/...">``) is fine:
nothing is fetched until the reader clicks it. Used by ``tests/delivery/``.
"""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)   # http://, https://, //host
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""", re.I)
#: (tag, attribute) pairs whose URL the browser fetches by itself
RESOURCE_ATTRS = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"),
                  ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"),
                  ("input", "src")}
LINK_RESOURCE_RELS = {"stylesheet", "preload", "icon", "shortcut", "modulepreload", "prefetch",
                      "apple-touch-icon", "manifest"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.resources: list[str] = []   # URLs the page loads by itself
        self.links: list[str] = []       # hyperlinks (href of <a>)
        self.ids: set[str] = set()
        self._in_style = False
        self.css: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for (t, attr) in RESOURCE_ATTRS:
            if tag == t and a.get(attr):
                self.resources.append(a[attr])
        if tag in ("img", "source") and a.get("srcset"):
            self.resources += [part.strip().split()[0] for part in a["srcset"].split(",") if part.strip()]
        if tag == "link" and a.get("href"):
            rels = set((a.get("rel") or "").lower().split())
            if rels & LINK_RESOURCE_RELS:
                self.resources.append(a["href"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("style"):
            self.css.append(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def css_urls(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in CSS_URL.finditer(text)]


def external_resources(html: str) -> list[str]:
    """Every URL an HTML page would fetch from outside by itself (empty when the page is offline)."""
    page = parse(html)
    urls = page.resources + [u for css in page.css for u in css_urls(css)]
    return [u for u in urls if EXTERNAL.match(u.strip())]


def problems(site: str | Path) -> list[str]:
    """External resources in any page or style sheet, and relative links or anchors that miss."""
    site = Path(site).resolve()
    found: list[str] = []
    # Theme templates copied into _static/ (Jinja macros) are not pages.
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    if not pages:
        return [f"{site}: no HTML page at all"]
    parsed = {p: parse(p.read_text(encoding="utf-8", errors="replace")) for p in pages}
    for css in sorted(site.rglob("*.css")):
        for url in css_urls(css.read_text(encoding="utf-8", errors="replace")):
            if EXTERNAL.match(url.strip()):
                found.append(f"{css.relative_to(site)}: style sheet loads {url}")
    for path, page in parsed.items():
        rel = path.relative_to(site)
        for url in external_resources(path.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{rel}: loads {url}")
        for url in page.resources + page.links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if parts.path and not target.exists():
                found.append(f"{rel}: link to {url}: no such file")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                # nbconvert writes heading ids percent-encoded (id="Lesson-04-%E2%80%94-..."),
                # Sphinx plain: a browser finds either spelling
                if unquote(parts.fragment) not in ids and parts.fragment not in ids:
                    found.append(f"{rel}: link to {url}: no element with id {parts.fragment!r}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    found = problems(argv[0])
    for line in found:
        print(line)
    print(f"{argv[0]}: {'OK, nothing loads from outside' if not found else f'{len(found)} problem(s)'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
