"""What the notebooks show: a :class:`Table` of plain values, and figures without pyplot.

A :class:`Table` prints as aligned text and shows as HTML in a notebook. :func:`figure`
makes a :class:`matplotlib.figure.Figure` without ``pyplot`` (no global state; a notebook
shows a figure when it is a cell's value). Figures need matplotlib (the ``notebooks``
extra); tables do not.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Cell", "Table", "count_table", "figure"]

Cell = str | int | float
"""One value of a table."""


@dataclass(frozen=True)
class Table:
    """Rows under named columns: shown as HTML in a notebook, as text by ``str``."""

    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    title: str = ""

    def __post_init__(self) -> None:
        wrong = [i for i, r in enumerate(self.rows) if len(r) != len(self.columns)]
        if wrong:
            raise ValueError(
                f"row {wrong[0]} has {len(self.rows[wrong[0]])} values for "
                f"{len(self.columns)} columns"
            )

    def __len__(self) -> int:
        return len(self.rows)

    def as_dicts(self) -> list[dict[str, Cell]]:
        """The rows as dictionaries keyed by column."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def column(self, name: str) -> list[Cell]:
        """The values of one column.

        Raises:
            KeyError: no such column.
        """
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; the columns are {', '.join(self.columns)}")
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def row(self, first: Cell) -> dict[str, Cell]:
        """The row whose first value is ``first``.

        Raises:
            KeyError: no such row.
        """
        for r in self.rows:
            if r[0] == first:
                return dict(zip(self.columns, r, strict=True))
        raise KeyError(f"no row {first!r} in {self.title or 'the table'}")

    @staticmethod
    def _cell(value: Cell) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    def __str__(self) -> str:
        cells = [list(self.columns), *([self._cell(v) for v in r] for r in self.rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(self._cell(v))}</td>" for v in r) + "</tr>"
            for r in self.rows
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def count_table(
    counts: Mapping[str, int], label: str, *, top: int | None = None, title: str = ""
) -> Table:
    """Counts as a table, largest first, with each value's share; the rest as 'other'.

    Args:
        counts: value → count (e.g. one of ``Store.stats()``'s groups).
        label: the name of the value column.
        top: keep this many rows and sum the rest into one.
        title: the table's caption.
    """
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(counts.values()) or 1
    kept = ordered if top is None else ordered[:top]
    rest = sum(n for _, n in ordered[len(kept) :])
    rows: list[tuple[Cell, ...]] = [(k or "(none)", n, round(n / total, 3)) for k, n in kept]
    if rest:
        rows.append((f"other ({len(ordered) - len(kept)})", rest, round(rest / total, 3)))
    return Table((label, "count", "share"), rows, title)


def figure(width: float = 8.0, height: float = 5.0) -> Figure:
    """A new figure with a constrained layout, outside pyplot."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")
