"""Every relative link and image in README.md and docs/ points to a file that exists, and every anchor to a
heading of its target, so that moving a page (as the results notebook moved to docs/results/passes/) cannot
leave a dead link behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
# [text](target "title") and ![alt](target); the text may wrap onto the next line.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:|^//", re.I)


def documents() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _blank(match: re.Match[str]) -> str:
    """The match as spaces, its line breaks kept, so that offsets after it keep their line numbers."""
    return re.sub(r"[^\n]", " ", match.group(0))


def prose(text: str, code_spans: bool = True) -> str:
    """`text` with fenced code blocks (and, unless told otherwise, code spans) blanked out."""
    text = FENCE.sub(_blank, text)
    return CODE_SPAN.sub(_blank, text) if code_spans else text


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lower-cased, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    """Every heading anchor of `doc`; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(prose(doc.read_text(encoding="utf-8"), code_spans=False)):
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(doc: Path) -> list[tuple[int, str]]:
    """(line, target) of every link, image and reference definition in `doc` outside code."""
    text = prose(doc.read_text(encoding="utf-8"))
    found = [(m.start(1), m.group(1)) for m in INLINE_LINK.finditer(text)]
    found += [(m.start(1), m.group(1)) for m in REFERENCE_DEF.finditer(text)]
    return sorted((text.count("\n", 0, at) + 1, target) for at, target in found)


def broken(doc: Path, root: Path = REPO) -> list[str]:
    """What is wrong with each relative link of `doc` (a page of the tree `root`), as "file:line: target: why"."""
    problems = []
    for line, target in links(doc):
        if EXTERNAL.match(target):
            continue
        where = f"{doc.relative_to(root)}:{line}: {target}"
        path, _, anchor = target.partition("#")
        if path.startswith("/"):
            problems.append(f"{where}: write it relative to the page, not from the repository root")
            continue
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            problems.append(f"{where}: no such file or folder ({dest})")
        elif not dest.is_relative_to(root):
            problems.append(f"{where}: points outside the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where}: {dest.relative_to(root)} has no heading with the anchor #{anchor}")
    return problems


def test_every_relative_link_and_anchor_resolves() -> None:
    problems = [problem for doc in documents() for problem in broken(doc)]
    assert not problems, "dead links:\n" + "\n".join(problems)


def test_the_docs_have_links_to_check() -> None:
    """The checker finds what it should: the results page links its notebook, images and logs."""
    targets = {target for _, target in links(REPO / "docs" / "results.md")}
    assert "results/passes/README.md" in targets
    assert any(t.startswith("img/") and t.endswith(".png") for t in targets)
    assert any(t.startswith("results/logs/") for t in targets)


@pytest.mark.parametrize(("heading", "anchor"), [
    ("## 3. Compression, measured", "3-compression-measured"),
    ("## 4. What `kd up` serves", "4-what-kd-up-serves"),
    ("### Eleventh pass: KA against Word-KD over four seeds", "eleventh-pass-ka-against-word-kd-over-four-seeds"),
    ("## Distil *your* teacher", "distil-your-teacher"),
    ("## See [the design](DESIGN.md)", "see-the-design"),
])
def test_anchors_are_githubs(tmp_path: Path, heading: str, anchor: str) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(f"{heading}\n\ntext\n", encoding="utf-8")
    assert anchors(doc) == {anchor}


def test_a_dead_link_a_missing_anchor_and_code_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n\n## Part two\n\n## Part two\n", encoding="utf-8")
    (tmp_path / "img.png").write_bytes(b"")
    doc = tmp_path / "page.md"
    doc.write_text("# Page\n\nSee [other](other.md#part-two), [again](other.md#part-two-1), ![pic](img.png),\n"
                   "[a wrapped\nlink](other.md#title), [here](#page) and [the web](https://example.org/x).\n"
                   "[gone](missing.md) and [no anchor](other.md#part-three).\n\n"
                   "```bash\n# not a heading; [not a link](nowhere.md)\n```\n"
                   "`[not a link either](nowhere.md)`\n", encoding="utf-8")
    problems = [p.split(": ", 2)[1:] for p in broken(doc, tmp_path)]
    assert [p[0] for p in problems] == ["missing.md", "other.md#part-three"]
    assert "no such file" in problems[0][1] and "no heading with the anchor #part-three" in problems[1][1]
