"""Write the one-byte codes into an existing home's current snapshot, as a build now does.

Usage:
    python benchmarks/add_prefilter.py --home DIR

A snapshot built before the codes existed is searched exactly without them; a build
writes them (``Profiles.build_indexes``). The codes are a function of the snapshot's
arrays alone (:meth:`embeddings.prefilter.Prefilter.build`), so writing them beside an
existing snapshot gives the files a build of the same snapshot would: the benchmarks use
this to compare one home with and without them, instead of rebuilding 100k profiles
(45 minutes here). Not for serving homes: there, ``matcher build``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from embeddings.artefact import current_folder
from embeddings.prefilter import Prefilter
from matcher.ranking.profiles import SEARCHED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    folder = current_folder(args.home)
    if folder is None:
        raise SystemExit(f"{args.home}: no snapshot")
    for name in SEARCHED:
        started = time.perf_counter()
        base = np.load(folder / f"vectors_{name}.npy", mmap_mode="r")
        Prefilter.build(base).save(folder, name)
        print(
            f"{folder.name}: codes of {name} ({len(base):,} rows) in "
            f"{time.perf_counter() - started:.1f} s"
        )


if __name__ == "__main__":
    main()
