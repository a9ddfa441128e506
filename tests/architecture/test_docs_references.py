"""Docs say only what exists: every file path and every code name they quote (in backticks) is found in the
repository. A renamed module, a removed function or a bench that writes elsewhere fails here, not in a reader's hands.

Decisions that a later one superseded are history and keep the names they had: their sections start with
``*Superseded by``. Names that are AWS's or finAPI's own (a property, an error, a field) are not ours to find in the
code; they are listed below, each once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIPPED_DIRS = {".venv", ".venv-sam", ".venv-ministack", ".aws-sam", ".git", "test-artifacts", "node_modules", "docs"}
CODE_SUFFIXES = {".py", ".yaml", ".json", ".js", ".toml", ".html", ".css", ".sh"}
# What the tests write (screenshots) exists only once a test ran, which in parallel workers may be after this check.
WRITTEN_BY_TESTS = {"test-artifacts"}
TOP_LEVEL = {p.name for p in ROOT.iterdir()} - WRITTEN_BY_TESTS
# Quoted in the docs, defined by AWS or SAM (not by us): what a reader may look up in AWS's documentation.
NOT_OURS = {"AutoPublishAlias"}
QUOTED = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")
FILE = re.compile(r"[\w-]+\.(?:py|md|json|yaml|js|toml|html|sh|css)")
NAME = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+")


def _repository_files() -> list[Path]:
    return [path for path in ROOT.rglob("*") if path.is_file() and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)]


@lru_cache(maxsize=1)
def _basenames() -> frozenset[str]:
    return frozenset(path.name for path in _repository_files())


@lru_cache(maxsize=1)
def _code() -> str:
    here = Path(__file__).resolve()  # this test quotes names that are gone, as examples
    texts = [p.read_text(errors="ignore") for p in _repository_files() if p.suffix in CODE_SUFFIXES and p != here]
    return "\n".join([*texts, (ROOT / "Makefile").read_text()])


def _current_sections(text: str) -> list[str]:
    """The sections of a document that describe the project as it is (a superseded decision is history)."""
    return [section for section in re.split(r"(?m)^(?=## )", text) if "*Superseded by" not in section[:400]]


def _missing(token: str) -> str | None:
    """Why a quoted token names nothing in the repository (None: it does, or it is no reference of ours)."""
    if FILE.fullmatch(token):
        return None if token in _basenames() else "no file of this name"
    if "/" in token and PATH.fullmatch(token) and token.split("/", 1)[0] in TOP_LEVEL:
        return None if (ROOT / token.rstrip("/")).exists() else "no such path"
    if NAME.fullmatch(token) and token not in NOT_OURS:
        return None if token in _code() else "named nowhere in the code or the template"
    return None


def _problems(document: Path) -> list[str]:
    found = []
    for section in _current_sections(document.read_text()):
        for token in QUOTED.findall(section):
            reason = _missing(token.strip())
            if reason:
                found.append(f"`{token}`: {reason}")
    return found


@pytest.mark.parametrize("document", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_and_name_the_docs_quote_exists(document: Path) -> None:
    assert _problems(document) == []


def test_a_quoted_path_or_name_that_is_gone_is_found(tmp_path: Path) -> None:
    # Given a document that quotes a module, a results file and a class that do not exist, beside ones that do
    document = tmp_path / "stale.md"
    document.write_text(
        "## Now\nSee `bench/warm.py`, `warm.md`, `SuperviseUpdate` and `bench/latency.py`, `PollUpdateStatus`.\n"
        "## D1. Old\n*Superseded by D2.* It used `LookQueue`.\n"
    )
    # Then each missing one is named, and the superseded section's history is left alone
    assert _problems(document) == [
        "`bench/warm.py`: no such path",
        "`warm.md`: no file of this name",
        "`SuperviseUpdate`: named nowhere in the code or the template",
    ]
