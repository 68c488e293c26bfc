"""The analyst notebooks: stored clean, run end to end, and show what the helpers compute.

One small demo home is built for the session through ``open_home`` on an empty folder
(the demo branch), with the session's encoder. Every notebook then runs in its own kernel with
``MATCHER_HOME`` naming that home (the "your own data" branch: a home with data and a
snapshot), so no notebook loads the model. Each notebook's tables are compared with the
same helpers called here on the same home: what a notebook shows is what the library
computes, and the library's answers are checked by hand in ``test_analysis.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import numpy as np
import pytest

from embeddings import SentenceTransformerEncoder, read_manifest
from embeddings.artefact import current_folder
from embeddings.distributed import ray_runtime
from matcher.domain.vocab import FeedbackKind, OrganisationKind
from matcher.evaluation.distributed import ray_runner
from matcher.evaluation.harness import evaluate, scorers_for
from matcher.evaluation.product import register_product_methods
from matcher.lab import analysis
from matcher.lab.analysis import DEMO_MARKER, Home, Table
from matcher.lab.analysis.homes import copy_home, demo_home, home_encoder
from matcher.ranking.rules import Filters
from matcher.store import Store

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
EXPECTED = [
    "01-data.ipynb",
    "02-embedding-map.ipynb",
    "03-graph-signals.ipynb",
    "04-ranking-quality.ipynb",
    "05-suggestions.ipynb",
    "06-table-plan.ipynb",
    "07-cross-border.ipynb",
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


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_cells_hold_no_demo_ids(name: str) -> None:
    code = "\n".join(c.source for c in _read(name).cells if c.cell_type == "code")
    assert "CL-" not in code and "SME-" not in code, f"{name} assumes the demo's ids"


# -- the session's home and the executed notebooks -------------------------------------------


@pytest.fixture(scope="session")
def demo(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[Home]:
    """The demo home, built by ``open_home`` on an empty folder (the demo branch).

    Smaller than the notebooks' default demo (40 clusters and 80 SMEs, not 60 and 120),
    yet with history enough for a learned ranker at the evaluation's cut-off.
    """
    folder = tmp_path_factory.mktemp("notebooks") / "home"
    home = analysis.open_home(folder, encoder=encoder, clusters=40, smes=80)
    yield home
    home.close()


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


Executed = tuple[Any, BaseException | None]


@pytest.fixture(scope="session")
def executed(demo: Home, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Executed]:
    """Runs a notebook once in a kernel against the demo home: (notebook, error or None)."""
    done: dict[str, Executed] = {}

    def run(name: str) -> Executed:
        if name not in done:
            nb = _read(name)
            scratch = tmp_path_factory.mktemp(name.split("-")[0])
            env = {
                "MATCHER_HOME": str(demo.path),
                "MATCHER_CORDIS": None,
                "HF_HUB_OFFLINE": "1",
                "TQDM_DISABLE": "1",
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "TMPDIR": str(scratch),  # the feedback copy of 07 lands here
            }
            client = nbclient.NotebookClient(
                nb,
                timeout=CELL_TIMEOUT,
                kernel_name="python3",
                resources={"metadata": {"path": str(scratch)}},
            )
            error: BaseException | None = None
            with _environment(env):
                try:
                    client.execute()
                except nbclient.exceptions.CellExecutionError as exc:
                    error = exc
            done[name] = (nb, error)
        return done[name]

    return run


def _outputs(nb: Any) -> list[Any]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _html(nb: Any) -> list[str]:
    return [o["data"]["text/html"] for o in _outputs(nb) if "text/html" in o.get("data", {})]


def _printed(nb: Any) -> str:
    return "".join(o.text for o in _outputs(nb) if o.output_type == "stream")


def _plots(nb: Any) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


def _shows(executed: Callable[[str], Executed], name: str, *tables: Table) -> None:
    nb, error = executed(name)
    assert error is None, f"{name} failed: {error}"
    shown = _html(nb)
    for table in tables:
        assert table._repr_html_() in shown, f"{name} does not show {table.title!r}:\n{table}"


@pytest.mark.parametrize(
    ("name", "plots"),
    [
        ("01-data.ipynb", 3),
        ("02-embedding-map.ipynb", 2),
        ("03-graph-signals.ipynb", 1),
        ("04-ranking-quality.ipynb", 3),
        ("05-suggestions.ipynb", 1),
        ("06-table-plan.ipynb", 1),
        ("07-cross-border.ipynb", 5),
    ],
)
def test_notebook_runs_and_plots(
    name: str, plots: int, executed: Callable[[str], Executed], demo: Home
) -> None:
    nb, error = executed(name)
    assert error is None, f"{name} failed: {error}"
    assert _plots(nb) == plots
    assert demo.summary() in _printed(nb)  # it opened the session's home, as its own data


# -- what each notebook shows ------------------------------------------------------------------


def test_01_shows_the_counts_years_and_degrees(
    demo: Home, executed: Callable[[str], Executed]
) -> None:
    stats = demo.store.stats()
    kinds = analysis.count_table(
        stats["organisations"]["by_kind"], "kind", title="Organisations by kind"
    )
    assert set(kinds.column("kind")) == {"cluster", "sme"}
    degrees = analysis.degree_table(demo.context)
    assert sum(int(n) for n in degrees.column("organisations")) == len(demo.organisations)
    _shows(executed, "01-data.ipynb", kinds, analysis.collaboration_years(demo.store), degrees)


def test_02_shows_how_neighbours_agree(demo: Home, executed: Callable[[str], Executed]) -> None:
    table = analysis.neighbour_agreement(demo.context, demo.organisations, k=5)
    overall = table.row("all")
    assert overall["organisations"] == len(demo.organisations)
    # The demo's texts are drawn per ecosystem: neighbours agree far above chance.
    assert float(overall["same ecosystem among 5 nearest"]) > 3 * float(overall["at random"])
    _shows(executed, "02-embedding-map.ipynb", table)


def test_03_shows_the_link_scores_of_a_typical_organisation(
    demo: Home, executed: Callable[[str], Executed]
) -> None:
    ctx = demo.context
    org_id = analysis.typical_organisation(ctx, min_degree=3)
    scores = analysis.link_scores(ctx, org_id)
    names = {i: o.name for i, o in demo.organisations.items()}
    assert len(scores.ids) == len(demo.organisations) - 1 - len(scores.partners)
    by_aa = analysis.link_score_table(scores, k=10, by="adamic_adar", names=names)
    assert by_aa.column("Adamic–Adar") == sorted(by_aa.column("Adamic–Adar"), reverse=True)
    _shows(
        executed,
        "03-graph-signals.ipynb",
        by_aa,
        analysis.link_score_table(scores, k=10, by="walk", names=names),
        analysis.link_score_correlations(ctx, sample=100, seed=0),
    )
    assert f"{org_id}: {names[org_id]}" in _printed(executed("03-graph-signals.ipynb")[0])


def test_04_shows_the_product_against_the_baselines(
    demo: Home, executed: Callable[[str], Executed]
) -> None:
    split = analysis.home_split(demo.store, queries=300, seed=0)
    assert (split.train_until, split.test_years) == analysis.history_years(demo.store)
    comparison = analysis.compare(
        split, analysis.product_homes(demo), ablations=analysis.ABLATIONS, bootstrap=1000, seed=0
    )
    report = comparison.report
    assert comparison.skipped == {}  # the demo has history enough for a learned ranker
    ablations = [f"default-minus-{f}" for f in analysis.ABLATIONS]
    assert list(report.methods) == [*analysis.BASELINES, "default", *ablations]
    # `default` in the table is exactly what a direct evaluation of the product gives.
    direct = evaluate(split, scorers_for(split, ["default"]), bootstrap=1000, seed=0)
    assert direct.methods["default"].metrics == report.methods["default"].metrics
    assert (
        report.methods["default"].metrics["ndcg@10"] > report.methods["random"].metrics["ndcg@10"]
    )
    _shows(executed, "04-ranking-quality.ipynb", analysis.report_table(report))
    assert "every method ran" in _printed(executed("04-ranking-quality.ipynb")[0])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own
def test_the_products_figures_are_the_same_on_ray(demo: Home) -> None:
    """``default`` scored by two Ray actors, each loading the product's home (issue 17)."""
    split = analysis.home_split(demo.store, queries=120, seed=0)
    homes = analysis.product_homes(demo)
    register_product_methods(split, homes)
    names = ["default", "adamic_adar"]
    here = evaluate(split, names, bootstrap=100, seed=0, batch_size=25)
    shipped = homes.for_workers()  # the actors load the same homes and build nothing
    with ray_runtime("local", num_cpus=2):
        there = evaluate(
            split, names, bootstrap=100, seed=0, batch_size=25,
            runner=ray_runner(setup=partial(register_product_methods, homes=shipped), actors=2),
        )  # fmt: skip
    for name in names:
        assert there.methods[name].metrics == here.methods[name].metrics
        assert there.methods[name].ci == here.methods[name].ci
    assert here.methods["default"].metrics["ndcg@10"] > 0


def test_05_shows_the_list_its_reasons_and_what_it_left_out(
    demo: Home, executed: Callable[[str], Executed]
) -> None:
    org_id = analysis.typical_organisation(demo.context, min_degree=3)
    suggestions = demo.matcher.recommend(org_id, k=10)
    left_out = analysis.left_out_table(suggestions)
    assert left_out.row("existing partners")["organisations"] == len(
        demo.context.graph.partners(demo.context.profiles.index[org_id])
    )
    smes = demo.matcher.recommend(
        org_id, k=5, filters=Filters(kinds=frozenset({OrganisationKind.SME}))
    )
    assert {s.organisation.kind for s in smes} == {OrganisationKind.SME}
    _shows(
        executed,
        "05-suggestions.ipynb",
        analysis.profile_table(demo.matcher.organisation(org_id)),
        analysis.suggestions_table(suggestions, title=f"Suggestions for {org_id}"),
        left_out,
        analysis.reasons_table(suggestions),
        analysis.suggestions_table(smes, title=f"SME suggestions for {org_id}"),
    )


def test_07_shows_cross_border_coverage_targets_and_feedback(
    demo: Home, executed: Callable[[str], Executed], tmp_path: Path
) -> None:
    lists = analysis.suggestion_lists(demo, k=10, sample=300, seed=0)
    assert len(lists.queries) == len(demo.organisations)  # the demo is smaller than 300
    border = analysis.cross_border_table(lists)
    # At most 3 of 10 from the asker's country whenever the pool allows: ≥ 70 % abroad.
    assert float(border.row("all")["lowest list"]) >= 0.7
    targets = analysis.target_market_table(lists)
    assert float(targets.row("all")["lift"]) > 1.0
    outcome = analysis.feedback_outcomes(demo, tmp_path / "copy", sample=20, k=10, seed=0)
    _shows(
        executed,
        "07-cross-border.ipynb",
        border,
        analysis.coverage_table(lists, by="country", top=15),
        analysis.coverage_table(lists, by="kind"),
        targets,
        analysis.feedback_summary(outcome),
        analysis.feedback_table(outcome),
    )


# -- the helpers on the demo home ---------------------------------------------------------------


def test_feedback_changes_a_copy_only_and_counts_both_ways(demo: Home, tmp_path: Path) -> None:
    before = demo.store.sequence()
    outcome = analysis.feedback_outcomes(demo, tmp_path / "copy", sample=12, k=10, seed=3)
    assert len(outcome.cases) == 12
    pairs = {
        (c.organisation, other): kind for c in outcome.cases for other, kind in c.given.items()
    }
    hidden = {FeedbackKind.BLOCKED, FeedbackKind.NOT_INTERESTED}
    for c in outcome.cases:
        for other, kind in c.given.items():
            assert other in c.before
            if kind in hidden:
                assert other not in c.after, f"{c.organisation} still gets {other} ({kind})"
                assert not outcome.reverse[(c.organisation, other)]
        # Left out: every pair involving this asker, whoever gave the feedback.
        involved: dict[str, set[FeedbackKind]] = {}
        for (a, b), kind in pairs.items():
            if c.organisation in (a, b):
                involved.setdefault(b if a == c.organisation else a, set()).add(kind)
        blocked = {o for o, kinds in involved.items() if FeedbackKind.BLOCKED in kinds}
        tired = {o for o, kinds in involved.items() if FeedbackKind.NOT_INTERESTED in kinds}
        tired -= blocked
        assert c.left_out_after.blocked == len(blocked)
        assert c.left_out_after.not_interested == len(tired)
        assert c.left_out_before.blocked == c.left_out_before.not_interested == 0
    summary = analysis.feedback_summary(outcome)
    assert summary.row("blocked")["still in the asker's list"] == 0
    assert summary.row("not_interested")["asker in the other's list"] == 0
    # The home itself never saw any of it.
    assert demo.store.sequence() == before
    assert all(not demo.store.feedback_about(c.organisation) for c in outcome.cases)
    with Store(outcome.copy / "matcher.sqlite") as copy:
        assert copy.sequence() > before
        assert copy.feedback_about(outcome.cases[0].organisation)
    with pytest.raises(ValueError, match="not empty"):
        copy_home(demo, outcome.copy)


def test_suggestion_lists_count_every_candidate_of_each_asker(demo: Home) -> None:
    lists = analysis.suggestion_lists(demo, k=10, sample=25, seed=1)
    assert len(lists.queries) == 25
    ctx = demo.context
    for query, candidates in zip(lists.queries, lists.candidates, strict=True):
        partners = len(ctx.graph.partners(ctx.profiles.index[query.id]))
        assert sum(candidates.values()) == len(demo.organisations) - 1 - partners


def test_open_home_takes_your_data_and_refuses_a_home_without_snapshot(
    demo: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = copy_home(demo, tmp_path / "own")
    (own / DEMO_MARKER).unlink()
    monkeypatch.setenv("MATCHER_HOME", str(own))
    with analysis.open_home() as home:
        assert (home.path, home.demo) == (own, False)
        assert "your data" in home.summary()
        assert home.store.sequence() == demo.store.sequence()
    bare = tmp_path / "bare"
    bare.mkdir()
    with Store(bare / "matcher.sqlite") as store:
        store.upsert_organisations([demo.organisations[next(iter(demo.organisations))]])
    monkeypatch.setenv("MATCHER_HOME", str(bare))
    with pytest.raises(ValueError, match="no snapshot yet: run `matcher build`"):
        analysis.open_home()
    with pytest.raises(ValueError, match="already holds other data"):
        demo_home(bare)
    with pytest.raises(ValueError, match="holds a demo made with"):
        demo_home(demo.path, clusters=41)


def test_remembering_encoder_loads_no_model_for_texts_the_snapshot_holds(
    demo: Home, encoder: SentenceTransformerEncoder
) -> None:
    remembering = home_encoder(demo.path, encoder)
    ctx = demo.context
    org = next(iter(demo.organisations.values()))
    got = remembering.encode([org.profile_text()])[0]
    assert not remembering.loaded
    np.testing.assert_allclose(
        got, ctx.profiles.vector("text", ctx.profiles.index[org.id]), atol=1e-6
    )
    fresh = "A text that no profile of the demo holds, about lunar greenhouses."
    np.testing.assert_allclose(
        remembering.encode([fresh])[0], encoder.encode([fresh])[0], atol=1e-6
    )
    assert remembering.loaded and remembering.encoded == 1
    assert not demo.matcher.encoder.loaded  # type: ignore[attr-defined]


def test_notebooks_never_write_into_the_home(
    demo: Home, executed: Callable[[str], Executed]
) -> None:
    for name in EXPECTED:
        executed(name)
    folder = current_folder(demo.path)
    assert folder is not None
    # The store is still at the sequence its (only) snapshot was built at.
    assert demo.store.sequence() == read_manifest(folder).extra["seq"]
    assert [p.name for p in (demo.path / "builds").iterdir()] == [folder.name]
