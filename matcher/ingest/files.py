"""Reading delimited files row by row with the line each row came from."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from matcher.domain.errors import ImportProblem

__all__ = ["CsvRows", "find_file", "open_text"]

csv.field_size_limit(1 << 24)


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """Open a UTF-8 text file, gzip-compressed when its name ends in ``.gz``."""
    gz = path.suffix == ".gz"
    raw = cast(IO[bytes], gzip.open(path, "rb")) if gz else path.open("rb")  # noqa: SIM115
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        yield text


def find_file(directory: Path, stem: str) -> Path | None:
    """``stem.csv`` or ``stem.csv.gz`` in ``directory``, whichever exists."""
    for name in (f"{stem}.csv", f"{stem}.csv.gz"):
        if (directory / name).is_file():
            return directory / name
    return None


class CsvRows:
    """Rows of a delimited file as dicts, checked against required columns.

    Args:
        path: the file.
        delimiter: the expected delimiter.
        required: columns that must be present.
        problems: where header problems are appended.

    """

    def __init__(
        self,
        path: Path,
        *,
        delimiter: str,
        required: Sequence[str],
        problems: list[ImportProblem],
    ) -> None:
        self.path = path
        self.delimiter = delimiter
        self.required = required
        self.problems = problems
        self.columns: list[str] = []

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        name = self.path.name
        try:
            with open_text(self.path) as f:
                reader = csv.reader(f, delimiter=self.delimiter)
                try:
                    header = next(reader)
                except StopIteration:
                    self.problems.append(
                        ImportProblem(name, 1, "", "the file is empty", fatal=True)
                    )
                    return
                self.columns = [h.strip() for h in header]
                missing = [c for c in self.required if c not in self.columns]
                if missing:
                    hint = ""
                    if len(self.columns) == 1 and any(d in header[0] for d in ",;\t|"):
                        hint = (
                            f" (is the delimiter {self.delimiter!r}? "
                            "the header reads as one column)"
                        )
                    for column in missing:
                        self.problems.append(
                            ImportProblem(
                                name, 1, column, f"missing required column{hint}", fatal=True
                            )
                        )
                    return
                width = len(self.columns)
                start = reader.line_num + 1  # the line where the next row starts
                for row in reader:
                    line, start = start, reader.line_num + 1
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    if len(row) != width:
                        self.problems.append(
                            ImportProblem(
                                name,
                                line,
                                "",
                                f"{len(row)} fields where the header has {width} "
                                f"(delimiter {self.delimiter!r} expected)",
                            )
                        )
                        continue
                    yield line, {k: v.strip() for k, v in zip(self.columns, row, strict=True)}
        except (OSError, UnicodeDecodeError, csv.Error, EOFError) as exc:
            self.problems.append(
                ImportProblem(name, 0, "", f"cannot read the file: {exc}", fatal=True)
            )
