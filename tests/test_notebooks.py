"""The analyst notebooks: stored without outputs, and each runs end to end with its plots.

One small demo home is built once for the session (the real model, ~180 profiles) and handed
to every notebook through ``MATCHER_HOME``, so no notebook encodes anything. The CORDIS part
of 04 stays off (``MATCHER_CORDIS`` removed) to keep the run small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from embeddings import SentenceTransformerEncoder

nbformat = pytest.importorskip("nbformat", reason="needs the notebooks extra")
nbclient = pytest.importorskip("nbclient", reason="needs the notebooks extra")
pytest.importorskip("ipykernel", reason="needs the notebooks extra")
pytest.importorskip("matplotlib", reason="needs the notebooks extra")

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
EXPECTED = [
    "01-data.ipynb",
    "02-embedding-map.ipynb",
    "03-graph-signals.ipynb",
    "04-ranking-quality.ipynb",
    "05-suggestions.ipynb",
    "06-table-plan.ipynb",
]
CELL_TIMEOUT = 300


def _read(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def test_every_notebook_is_here() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = _read(name)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} hold outputs; strip them before committing"


@pytest.fixture(scope="session")
def notebook_home(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Path:
    """The demo home every notebook reuses (built once, with the session's encoder)."""
    from matcher.lab.analysis import demo_home

    return demo_home(tmp_path_factory.mktemp("notebook-home") / "home", encoder=encoder)


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_and_plots(
    name: str, notebook_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCHER_HOME", str(notebook_home))
    monkeypatch.delenv("MATCHER_CORDIS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = _read(name)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} produced no plot (image/png output)"
