"""The embedding space: profile vectors projected to a map, and how their neighbours agree.

Vectors are the served state's ``text`` field (the profile text, or the mean of an
organisation's project texts); organisations without one are left out. On a large home a
seeded sample of ``max_rows`` organisations stands for the whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.domain.schema import Organisation
from matcher.lab.analysis.tables import Cell, Table, figure
from matcher.ranking.rank import Context

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "EmbeddingMap",
    "chance",
    "embedding_map",
    "neighbour_agreement",
    "plot_embedding_map",
    "primary_ecosystem",
    "text_rows",
]

FloatArray = npt.NDArray[np.float64]


def primary_ecosystem(organisation: Organisation) -> str:
    """The first ecosystem an organisation lists, 'none' without one."""
    return organisation.ecosystems[0].value if organisation.ecosystems else "none"


def text_rows(ctx: Context, *, max_rows: int = 3000, seed: int = 0) -> npt.NDArray[np.int64]:
    """Live rows with a text vector, sorted; a seeded sample of ``max_rows`` when more."""
    p = ctx.profiles
    alive = np.flatnonzero(p.alive).astype(np.int64)
    norms = np.linalg.norm(p.vectors("text", alive), axis=1) if len(alive) else np.zeros(0)
    rows = alive[norms > 0]
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    return rows


@dataclass(frozen=True)
class EmbeddingMap:
    """Organisations placed in two dimensions by a projection of their text vectors."""

    ids: list[str]
    names: list[str]
    kinds: list[str]
    ecosystems: list[str]
    """Each organisation's primary (first listed) ecosystem, 'none' where it has none."""
    xy: FloatArray
    explained: tuple[float, float]
    """Share of the vectors' variance along each axis."""
    method: str


def embedding_map(
    ctx: Context,
    organisations: Mapping[str, Organisation],
    *,
    method: str = "pca",
    max_rows: int = 3000,
    seed: int = 0,
) -> EmbeddingMap:
    """Project the organisations' text vectors to 2-D.

    Args:
        ctx: the served state.
        organisations: profiles by id (names, kinds, ecosystems).
        method: ``pca`` (centred) or ``svd`` (truncated SVD, uncentred).
        max_rows: sample this many organisations at most.
        seed: the sample's and the SVD's random state.

    Raises:
        ValueError: an unknown method, or fewer than 3 organisations with text.
    """
    from sklearn.decomposition import PCA, TruncatedSVD

    if method not in ("pca", "svd"):
        raise ValueError(f"unknown method {method!r}: use 'pca' or 'svd'")
    rows = text_rows(ctx, max_rows=max_rows, seed=seed)
    if len(rows) < 3:
        raise ValueError("need at least 3 organisations with text to draw a map")
    vectors = ctx.profiles.vectors("text", rows).astype(np.float64)
    model = (
        PCA(n_components=2, random_state=seed)
        if method == "pca"
        else TruncatedSVD(n_components=2, random_state=seed)
    )
    xy = np.asarray(model.fit_transform(vectors), np.float64)
    ratio = [float(r) for r in model.explained_variance_ratio_]
    orgs = [organisations[ctx.profiles.ids[int(r)]] for r in rows]
    return EmbeddingMap(
        ids=[o.id for o in orgs],
        names=[o.name for o in orgs],
        kinds=[o.kind.value for o in orgs],
        ecosystems=[primary_ecosystem(o) for o in orgs],
        xy=xy,
        explained=(ratio[0], ratio[1]),
        method=method,
    )


def plot_embedding_map(emap: EmbeddingMap, *, title: str = "") -> Figure:
    """The map as a scatter plot coloured by primary ecosystem, one marker per kind."""
    from matplotlib import colormaps

    groups = sorted(set(emap.ecosystems), key=lambda e: (-emap.ecosystems.count(e), e))
    kinds = sorted(set(emap.kinds), key=lambda k: (-emap.kinds.count(k), k))
    markers = dict(zip(kinds, "o^sDvP*Xh<>", strict=False))
    palette = colormaps["tab20"]
    fig = figure(10.0, 7.0)
    ax = fig.add_subplot()
    eco, kind = np.array(emap.ecosystems), np.array(emap.kinds)
    for i, name in enumerate(groups):
        label: str | None = f"{name} ({int((eco == name).sum())})"
        for k in kinds:
            sel = (eco == name) & (kind == k)
            if not sel.any():
                continue
            ax.scatter(
                emap.xy[sel, 0],
                emap.xy[sel, 1],
                color=palette((2 * i) % 20 + (i // 10) % 2),
                marker=markers.get(k, "o"),
                s=36,
                alpha=0.8,
                edgecolors="white",
                linewidths=0.4,
                label=label,
            )
            label = None
    axis = "PC" if emap.method == "pca" else "SVD "
    ax.set_xlabel(f"{axis}1 ({emap.explained[0]:.0%} of variance)")
    ax.set_ylabel(f"{axis}2 ({emap.explained[1]:.0%} of variance)")
    shapes = ", ".join(f"{markers.get(k, 'o')} {k}" for k in kinds)
    ax.set_title(
        title
        or f"Profile embeddings of {len(emap.ids)} organisations ({emap.method.upper()})\n"
        f"colour: primary ecosystem; {shapes}"
    )
    ax.legend(title="primary ecosystem", loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(True, alpha=0.3)
    return fig


def neighbour_agreement(
    ctx: Context,
    organisations: Mapping[str, Organisation],
    *,
    k: int = 5,
    max_rows: int = 3000,
    seed: int = 0,
) -> Table:
    """How often an organisation's nearest text neighbours share its primary ecosystem.

    Per primary ecosystem: organisations, the share of their ``k`` nearest neighbours
    (cosine of text vectors, itself excluded) with the same primary ecosystem, and that
    share at random (the ecosystem's frequency among the others).

    Raises:
        ValueError: fewer than 2 organisations with text.
    """
    rows = text_rows(ctx, max_rows=max_rows, seed=seed)
    if len(rows) < 2:
        raise ValueError("need at least 2 organisations with text")
    primary = np.array([primary_ecosystem(organisations[ctx.profiles.ids[int(r)]]) for r in rows])
    vectors = ctx.profiles.vectors("text", rows).astype(np.float64)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    kk = min(k, len(rows) - 1)
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :kk]
    same = (primary[nearest] == primary[:, None]).mean(axis=1)
    out: list[tuple[Cell, ...]] = []
    for name in sorted(set(primary.tolist()), key=lambda e: (-(primary == e).sum(), e)):
        mask = primary == name
        count = int(mask.sum())
        out.append(
            (
                name,
                count,
                round(float(same[mask].mean()), 3),
                round((count - 1) / max(len(rows) - 1, 1), 3),
            )
        )
    out.append(("all", len(rows), round(float(same.mean()), 3), round(chance(primary), 3)))
    return Table(
        ("primary ecosystem", "organisations", f"same ecosystem among {kk} nearest", "at random"),
        out,
        f"Do the {kk} nearest profiles share the primary ecosystem?",
    )


def chance(labels: npt.NDArray[np.str_]) -> float:
    """The chance that another organisation drawn at random shares one's label."""
    n = len(labels)
    if n < 2:
        return 0.0
    counts = np.array(list(Counter(labels.tolist()).values()), np.float64)
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))
