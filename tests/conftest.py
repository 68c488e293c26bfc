"""Shared fixtures: the real model is loaded once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from embeddings import SentenceTransformerEncoder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SHARED_CORDIS = REPO.parent / "shared" / "data" / "cordis"


def need_cordis(directory: Path = SHARED_CORDIS) -> Path:
    """The CORDIS subset beside the repository: a failure under CI without it, else a skip."""
    if (directory / "project.csv.gz").is_file():
        return directory
    message = f"the CORDIS subset is not at {directory}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI needs it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def encoder() -> SentenceTransformerEncoder:
    """The real all-MiniLM-L6-v2 encoder, loaded once."""
    enc = SentenceTransformerEncoder(batch_size=32)
    enc.encode(["warm-up"])
    return enc


@pytest.fixture
def matcher(tmp_path: Path, encoder: SentenceTransformerEncoder) -> Iterator[Matcher]:
    """A matcher over an empty home in tmp_path, sharing the session's encoder."""
    with Matcher(Settings(home=tmp_path / "home"), encoder=encoder) as m:
        yield m


@pytest.fixture(scope="session")
def examples_home(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Path:
    """A home with the example files imported and built (read-only for tests)."""
    home = tmp_path_factory.mktemp("examples-home")
    with Matcher(Settings(home=home), encoder=encoder) as m:
        m.import_platform(
            organisations=EXAMPLES / "organisations.csv",
            collaborations=EXAMPLES / "collaborations.csv",
        )
        m.build(show_progress=False)
    return home
