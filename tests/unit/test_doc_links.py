"""The README and docs/ link to each other: every relative link must land on a file and, with
an #anchor, on a heading of that file, as GitHub renders them. A section moved or renamed
without its links is what this catches; a newcomer following a dead link is what it prevents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> list[str]:
    """Lines outside fenced code blocks, where a `[x](y)` is text, not a link."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation removed,
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    found = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    """Targets of the links and images that point inside the repository."""
    prose = "\n".join(_prose_lines(path.read_text(encoding="utf-8")))
    prose = re.sub(r"`[^`]*`", "", prose)  # link text may wrap onto the next line
    return [target for target in _LINK.findall(prose) if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)]


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            problems.append(f"{target}: no file {destination}")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{target}: no heading #{anchor} in {destination.name}")
    return problems


def test_slugs_follow_github() -> None:
    # GIVEN headings written the ways our docs write them, with the anchors GitHub shows for them
    assert github_slug("Where local data lives") == "where-local-data-lives"
    assert github_slug("Live refresh: `st.fragment`, not `streamlit-autorefresh`") == (
        "live-refresh-stfragment-not-streamlit-autorefresh"
    )
    assert github_slug("The app's pages") == "the-apps-pages"
    assert github_slug("Process: parse, validate, derive, detect in memory") == (
        "process-parse-validate-derive-detect-in-memory"
    )


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    # GIVEN a page linking to a missing file, a missing heading and a heading that exists
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Here\n\n[a](missing.md) [b is\nwrapped](#nowhere) [c](#here) [d](https://x.org)\n")
    # WHEN its links are checked THEN the two dead ones are reported, the others are not
    problems = broken_links(page)
    assert len(problems) == 2
    assert problems[0].startswith("missing.md: no file")
    assert problems[1].startswith("#nowhere: no heading")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_every_doc_is_linked_from_the_readme() -> None:
    # A page nobody links to is a page a newcomer never finds.
    linked = {target.partition("#")[0] for target in relative_links(ROOT / "README.md")}
    for doc in DOCUMENTS[1:]:
        assert f"docs/{doc.name}" in linked, f"README does not link docs/{doc.name}"


def test_readme_fits_a_first_read() -> None:
    # Issue 10: the README is what a newcomer reads first; the rest lives in docs/.
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024
