"""Build a retrieval-evaluation corpus from the LibreOffice 7.4 help's how-to ("guide") pages.

The pages come from Debian's package `libreoffice-help-en-us` (LibreOffice help, by the
LibreOffice contributors, licensed MPL-2.0). Only the Calc, Writer and shared guide pages
are used. Each becomes `OUT_DIR/<module>-<stem>.html`: a minimal HTML page holding the
help's article text without its navigation, scripts, images, anchors and link lists.

    python scripts/libreoffice_help.py OUT_DIR               # apt-get download + dpkg-deb -x
    python scripts/libreoffice_help.py OUT_DIR --source DIR  # DIR = .../help/en-US/text
"""

import argparse
import html
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bs4 import BeautifulSoup, Comment, Tag

PACKAGE = "libreoffice-help-en-us"
HELP_TEXT = "usr/share/libreoffice/help/en-US/text"
MODULES = {"scalc": "calc", "swriter": "writer", "shared": "shared"}
PLATFORMS = frozenset({"WIN", "UNIX", "MAC"})
# Which case of a `<span class="switch">` a page keeps: the first of these groups present.
# The help shows the case for the application (or OS) it is opened from, else the default
# case; a shared page is read as from Writer, then Calc. Platform-only notes with no
# default case (e.g. "Under Windows, ...") are all kept.
CASES = {
    "calc": [{"CALC"}, {"default"}, PLATFORMS],
    "writer": [{"WRITER"}, {"default"}, PLATFORMS],
    "shared": [{"WRITER"}, {"default"}, {"CALC"}, PLATFORMS],
}
MIN_TEXT = 200
CODE_SPANS = {"literal", "input"}
KEEP_ATTRIBUTES = {"colspan", "rowspan"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", type=Path, help="an extracted .../help/en-US/text folder")
    args = parser.parse_args(argv)
    if args.source:
        written, skipped = build(args.source, args.out_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            written, skipped = build(download(Path(tmp)), args.out_dir)
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"{written} pages written to {args.out_dir}, {len(skipped)} skipped")


def download(tmp: Path) -> Path:
    """Fetch the Debian package into `tmp`, unpack it there, return its help text folder."""
    subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, check=True)
    debs = sorted(tmp.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        sys.exit(f"apt-get download left no {PACKAGE} .deb in {tmp}")
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tmp / "x")], check=True)
    return tmp / "x" / HELP_TEXT


def build(source: Path, out_dir: Path) -> tuple[int, list[tuple[str, str]]]:
    """Convert every chosen guide page; returns the number written and (page, reason) skips."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    for folder, module in MODULES.items():
        pages = sorted((source / folder / "guide").glob("*.html"))
        if not pages:
            sys.exit(f"{source / folder / 'guide'} holds no .html pages")
        for page in pages:
            name = f"{module}-{page.stem}.html"
            if page.stem == "main":  # each module's index: a boilerplate intro, then links
                skipped.append((name, "module index page, a list of links"))
                continue
            try:
                clean = convert(page.read_text(encoding="utf-8"), module)
            except Skipped as exc:
                skipped.append((name, str(exc)))
                continue
            (out_dir / name).write_text(clean, encoding="utf-8")
            written += 1
    return written, skipped


class Skipped(ValueError):
    """The page is left out of the corpus; the message says why."""


def convert(page: str, module: str) -> str:
    """The help page as a minimal HTML document; raises Skipped for a page with no article."""
    area = BeautifulSoup(page, "html.parser").find("div", id="DisplayArea")
    if area is None:
        raise Skipped("no DisplayArea")
    resolve_switches(area, CASES[module])
    drop_chrome(area)
    drop_link_lists(area)
    simplify(area)
    headings = area.find_all(re.compile(r"h[1-6]"))
    for n, heading in enumerate(headings):  # one <h1>: a few pages have none, or two
        heading.name = "h1" if n == 0 else "h2" if heading.name == "h1" else heading.name
    heading = headings[0] if headings else None
    title = " ".join(heading.get_text(" ").split()) if heading else ""
    text = sum(len(t.get_text(" ", strip=True)) for t in area.find_all(True, recursive=False)
               if not re.fullmatch(r"h[1-6]", t.name))  # fmt: skip
    if not title or text < MIN_TEXT:
        raise Skipped(f"only {text} characters of text besides its headings")
    body = "".join(str(child) for child in area.contents).strip()
    body = re.sub(r"[ \t]+\n", "\n", re.sub(r"\n\s*\n+", "\n\n", body))
    return (f"<html><head><title>{html.escape(title, quote=False)}</title></head><body>\n"
            f"{body}\n</body></html>\n")  # fmt: skip


def resolve_switches(area: Tag, preference: list[set[str]]) -> None:
    """Keep the case of each application/system switch that a reader of the page sees.

    The help hides every case (`hidden="true"`) and shows one with JavaScript."""
    for switch in reversed(area.find_all("span", class_=["switch", "switchinline"])):
        cases = [c for c in switch.find_all(recursive=False) if isinstance(c, Tag)]
        kinds = [case_kind(c) for c in cases]
        keep = next((group for group in preference if group.intersection(kinds)), set())
        for case, kind in zip(cases, kinds, strict=True):
            if kind in keep:
                case.unwrap()
            else:
                case.decompose()
        switch.unwrap()


def case_kind(case: Tag) -> str:
    classes = case.get("class") or []
    if classes:
        return classes[0]
    return "default" if case.get("id", "").startswith("defaul") else "unknown"


def drop_chrome(area: Tag) -> None:
    """Remove what is not article text: scripts, metadata, images, note icons, comments."""
    for comment in area.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in area.find_all(["script", "style", "noscript", "meta", "link", "img"]):
        tag.decompose()
    for tag in area.find_all("div", class_="noteicon"):
        tag.decompose()
    for cell in area.select("div.icontable > div.iconcell"):
        if not cell.get_text(strip=True):
            cell.decompose()


def drop_link_lists(area: Tag) -> None:
    """Remove the "Related Topics" heading with everything after it, and other blocks
    that are only links to other help pages."""
    related = area.find("p", class_="related")
    if related is not None:
        block = related if related.parent is area else related.find_parent(
            lambda t: t.parent is area)  # fmt: skip
        for tag in [block, *block.find_next_siblings()]:
            tag.decompose()
    blocks = area.find_all(["p", "div"], recursive=False) + area.find_all(class_="embedded")
    for block in blocks:
        if block.decomposed:
            continue
        text = block.get_text("", strip=True)
        links = "".join(a.get_text("", strip=True) for a in block.find_all("a", href=True))
        if text == links:
            block.decompose()


def simplify(area: Tag) -> None:
    """Flatten links and anchors, turn literal spans into <code>, unwrap the other spans
    and wrapper divs, and strip every attribute but table spans."""
    for tag in area.find_all("a"):
        tag.unwrap()
    for tag in area.find_all("span"):
        if CODE_SPANS.intersection(tag.get("class") or []):
            tag.name, tag.attrs = "code", {}
        else:
            tag.unwrap()
    for tag in area.find_all("div"):
        tag.unwrap()
    for tag in area.find_all(True):
        tag.attrs = {k: v for k, v in tag.attrs.items() if k in KEEP_ATTRIBUTES and v}
    for tag in area.find_all(["p", "li", "ol", "ul"]):
        if not tag.get_text(strip=True):
            tag.decompose()
    for tag in area.find_all("br", recursive=False):  # spacing between blocks
        tag.decompose()
    for tag in area.find_all(re.compile(r"h[1-6]")):
        tag.string = " ".join(tag.get_text().split())
    drop_empty_sections(area)


def drop_empty_sections(area: Tag) -> None:
    """Remove a heading (not the title) whose section lost all its text with the links."""
    for heading in reversed(area.find_all(re.compile(r"h[2-6]"))):
        following = heading.find_next_sibling()
        if following is None or (
            re.fullmatch(r"h[1-6]", following.name) and following.name <= heading.name
        ):
            heading.decompose()


if __name__ == "__main__":
    main()
