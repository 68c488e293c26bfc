"""The home a notebook reads: the user's own (``MATCHER_HOME``) or the small demo.

:func:`open_home` opens ``MATCHER_HOME`` when it names a home with data and a snapshot;
an empty (or unset) one gets the seeded demo data set, imported and built once. Nothing
here writes into a home that holds other data: :func:`copy_home` makes a copy to write
into (the store through SQLite's backup, the current snapshot by hard links).

The matcher of an opened home encodes through a :class:`RememberingEncoder`: every text
the snapshot already holds is looked up in its embedding cache, so reading a built home,
or building a copy of it as of an earlier date, loads no model at all.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embeddings import EmbeddingCache, Encoder, make_encoder, read_manifest, text_key
from embeddings.artefact import current_folder
from matcher.app import replication
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.schema import Organisation
from matcher.ingest import write_collaborations, write_organisations
from matcher.ranking.rank import Context
from matcher.store import STORE_FILE, Store

__all__ = [
    "DEMO_MARKER",
    "Home",
    "RememberingEncoder",
    "copy_home",
    "demo_files",
    "demo_home",
    "holds_data",
    "home_encoder",
    "open_copy",
    "open_home",
]

logger = logging.getLogger(__name__)

DEMO_MARKER = "demo-home.json"
"""File in a home built by :func:`demo_home`, naming the generator's arguments."""


def holds_data(path: Path) -> bool:
    """Whether a folder holds a store with at least one organisation (read only)."""
    db = Path(path) / STORE_FILE
    if not db.exists():
        return False
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return bool(conn.execute("SELECT 1 FROM organisations LIMIT 1").fetchone())
        except sqlite3.DatabaseError:
            return False


def demo_files(home: Path) -> tuple[Path, Path]:
    """The organisations and collaborations files :func:`demo_home` writes under ``home``."""
    folder = Path(home) / "demo"
    return folder / "organisations.csv", folder / "collaborations.csv"


def demo_home(
    path: Path | str | None = None,
    *,
    seed: int = 2026,
    clusters: int = 60,
    smes: int = 120,
    encoder: Encoder | None = None,
) -> Path:
    """A home holding the seeded demo data set, imported and built (reused when it is).

    The demo files go to ``<home>/demo/`` in the platform's format; the build uses the
    real model. A second call with the same arguments on a built home does nothing.

    Args:
        path: the home folder (default: a new temporary folder).
        seed: the generator's seed.
        clusters: how many clusters the generator makes.
        smes: how many SMEs.
        encoder: an encoder already loaded (default: the one the settings name).

    Raises:
        ValueError: the folder holds other data, or a demo made with other arguments.
    """
    from matcher.lab.demo import generate_demo

    home = (
        Path(path).expanduser()
        if path is not None
        else Path(tempfile.mkdtemp(prefix="matcher-demo-home-"))
    )
    wanted = {"seed": seed, "clusters": clusters, "smes": smes}
    marker = home / DEMO_MARKER
    if marker.exists():
        found = json.loads(marker.read_text(encoding="utf-8"))
        if found != wanted:
            raise ValueError(f"{home} holds a demo made with {found}, not {wanted}")
        if current_folder(home) is not None:
            return home
    elif holds_data(home):
        raise ValueError(f"{home} already holds other data: give an empty folder for the demo")
    home.mkdir(parents=True, exist_ok=True)
    with Matcher(Settings(home=home), encoder=encoder) as matcher:
        data = generate_demo(seed=seed, clusters=clusters, smes=smes)
        organisations, collaborations = demo_files(home)
        write_organisations(data.organisations, organisations)
        write_collaborations(data.collaborations, collaborations)
        if not marker.exists():
            matcher.import_platform(organisations=organisations, collaborations=collaborations)
            marker.write_text(json.dumps(wanted), encoding="utf-8")
        matcher.build(show_progress=False)
    return home


class RememberingEncoder:
    """An encoder that first looks texts up among vectors it was given.

    Texts it has not seen go to an encoder made on first need (so the model loads only
    then), and are remembered too. Keys are those of the embedding cache (model, backend,
    text), so a remembered vector is exactly what that model and backend gave.

    Args:
        model_id: the model the vectors came from.
        backend: the backend they came from.
        dimension: their length.
        revision: the model's revision.
        known: the vectors by text key.
        make: makes the encoder for unseen texts (same model and backend).
    """

    def __init__(
        self,
        model_id: str,
        backend: str,
        dimension: int,
        revision: str,
        known: EmbeddingCache,
        make: Callable[[], Encoder],
    ) -> None:
        self._model_id, self._backend = model_id, backend
        self._dimension, self._revision = dimension, revision
        self.known = known
        self._make = make
        self._inner: Encoder | None = None
        self.encoded = 0
        """How many texts went to the model."""

    @property
    def model_id(self) -> str:
        """The model the vectors come from."""
        return self._model_id

    @property
    def backend(self) -> str:
        """The backend the vectors come from."""
        return self._backend

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        return self._dimension

    @property
    def revision(self) -> str:
        """The model's revision."""
        return self._revision

    @property
    def loaded(self) -> bool:
        """Whether the model had to be loaded."""
        return self._inner is not None

    def encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> npt.NDArray[np.float32]:
        """Unit vectors of ``texts``: remembered ones looked up, the rest encoded."""
        keys = [text_key(self._model_id, self._backend, t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.known}
        if missing:
            if self._inner is None:
                self._inner = self._make()
            vectors = self._inner.encode(list(missing.values()), show_progress=show_progress)
            self.known.add(list(missing), vectors)
            self.encoded += len(missing)
        if not keys:
            return np.zeros((0, self._dimension), np.float32)
        return np.stack([self.known.get(k) for k in keys]).astype(np.float32)


def home_encoder(path: Path, encoder: Encoder | None = None) -> RememberingEncoder:
    """An encoder that remembers every text of a home's current snapshot.

    Args:
        path: a built home.
        encoder: used for unseen texts when it is of the snapshot's model and backend;
            otherwise one is made from the snapshot's manifest.

    Raises:
        ValueError: the home has no snapshot.
    """
    folder = current_folder(Path(path))
    if folder is None:
        raise ValueError(f"{path} has no snapshot: run `matcher build` first")
    manifest = read_manifest(folder)
    known = EmbeddingCache.load(folder, manifest.dimension)

    wanted = (manifest.model_id, manifest.backend)

    def make() -> Encoder:
        if encoder is not None and (encoder.model_id, encoder.backend) == wanted:
            return encoder
        logger.info("loading %s (%s) for texts the snapshot lacks", manifest.model_id,
                    manifest.backend)  # fmt: skip
        return make_encoder(
            manifest.model_id, backend=manifest.backend, cache_dir=Path(path) / "models"
        )

    return RememberingEncoder(
        manifest.model_id,
        manifest.backend,
        manifest.dimension,
        manifest.model_revision,
        known,
        make,
    )


@dataclass
class Home:
    """An opened home: its folder and a matcher over it.

    Attributes:
        path: the folder.
        matcher: the matcher (settings from the environment; model and backend those of
            the snapshot).
        demo: whether it holds the demo data set.
    """

    path: Path
    matcher: Matcher
    demo: bool

    @property
    def store(self) -> Store:
        """The home's store."""
        return self.matcher.store

    @property
    def context(self) -> Context:
        """The served ranking state (the snapshot and every write since)."""
        return self.matcher.live().context

    @property
    def encoder(self) -> Encoder:
        """The matcher's encoder."""
        return self.matcher.encoder

    @cached_property
    def organisations(self) -> dict[str, Organisation]:
        """Every organisation of the store, by id."""
        return {o.id: o for o in self.store.organisations()}

    def summary(self) -> str:
        """One line for people: where, what, how much."""
        ctx = self.context
        what = "the demo data set (synthetic)" if self.demo else "your data"
        return (
            f"home {self.path}: {what}; {int(ctx.profiles.alive.sum()):,} organisations, "
            f"{int(ctx.graph.degree.sum() // 2):,} partner pairs, "
            f"{self.store.count_collaborations():,} collaborations"
        )

    def close(self) -> None:
        """Close the store."""
        self.matcher.close()

    def __enter__(self) -> Home:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(path: Path, demo: bool, encoder: Encoder | None) -> Home:
    remembering = home_encoder(path, encoder)
    settings = Settings(home=path).model_copy(
        update={"model": remembering.model_id, "backend": remembering.backend}
    )
    return Home(path, Matcher(settings, encoder=remembering), demo)


def open_home(
    path: Path | str | None = None,
    *,
    encoder: Encoder | None = None,
    seed: int = 2026,
    clusters: int = 60,
    smes: int = 120,
) -> Home:
    """The home the notebooks analyse: the user's own data, else the demo.

    The folder is ``path``, else ``$MATCHER_HOME``. A folder holding data and a snapshot
    is opened as it is (never written). An empty or missing folder gets the demo data
    set, imported and built (reused by later calls); with neither a path nor
    ``MATCHER_HOME`` the demo goes to a new temporary folder.

    Args:
        path: the home folder.
        encoder: an encoder already loaded, for texts a snapshot lacks and for a demo build.
        seed: the demo generator's seed.
        clusters: how many clusters the demo has.
        smes: how many SMEs the demo has.

    Raises:
        ValueError: the folder holds data but no snapshot (run ``matcher build``), or
            a demo made with other arguments.
    """
    chosen = path if path is not None else os.environ.get("MATCHER_HOME") or None
    folder = Path(chosen).expanduser() if chosen is not None else None
    if folder is not None and holds_data(folder):
        if current_folder(folder) is None:
            raise ValueError(
                f"{folder} holds data but no snapshot yet: run `matcher build` "
                f"(with MATCHER_HOME={folder}) first"
            )
        return _open(folder, (folder / DEMO_MARKER).exists(), encoder)
    home = demo_home(folder, seed=seed, clusters=clusters, smes=smes, encoder=encoder)
    return _open(home, True, encoder)


def copy_home(home: Home | Path, target: Path | str) -> Path:
    """Copy a home's store and current snapshot into an empty folder, to write into.

    See :func:`matcher.app.replication.copy_home` (the demo's marker goes with it).

    Raises:
        ValueError: the target exists and is not empty, or the home has no snapshot.
    """
    source = home.path if isinstance(home, Home) else Path(home)
    return replication.copy_home(source, Path(target), marker=DEMO_MARKER)


def open_copy(home: Home, target: Path | str) -> Home:
    """:func:`copy_home`, opened with the same encoder (nothing is encoded twice)."""
    path = copy_home(home, target)
    settings = home.matcher.settings.model_copy(update={"home": path})
    return Home(path, Matcher(settings, encoder=home.matcher.encoder), home.demo)
