"""The documentation stays true to the code: the configuration reference is the generated one,
the README stays a front door, links resolve, and no file narrates how the work was organised."""

import re
from pathlib import Path

from chemloop.config_reference import reference

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Words that only make sense to whoever organised the work: a reader cannot know what they were.
NARRATION = re.compile(r"\bsessions? \d+|\bissues? #?\d+|\blent\b", re.IGNORECASE)
TEXT_SUFFIXES = {".md", ".py", ".sh", ".toml", ".json", ".html", ".js", ".css", ".txt", ""}


def test_the_configuration_reference_is_generated_from_the_code():
    checked_in = (ROOT / "docs/configuration.md").read_text()
    assert checked_in == reference(), (
        "docs/configuration.md differs from the config models; regenerate it with "
        "`python -m chemloop.config_reference > docs/configuration.md`"
    )


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 160, "README.md is over 160 lines: move detail into docs/"
    assert "../" not in readme, "README.md points outside the repository"


def test_relative_links_in_the_docs_resolve():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def _text_files():
    yield from DOCS
    yield from (ROOT / p for p in ("Makefile", ".ci/run"))
    for folder in ("bench", "chemloop", "examples"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def test_no_file_narrates_how_the_work_was_organised():
    found = []
    for path in _text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if NARRATION.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, (
        "describe the product and its measurements (a date or commit where history matters):\n"
        + ("\n".join(found))
    )
