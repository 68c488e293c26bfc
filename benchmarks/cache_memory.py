"""Memory of the organisation cache when full: ``MATCHER_ORGANISATION_CACHE`` profiles.

Usage: python benchmarks/cache_memory.py --home DIR [--size 4096]

Reads ``--size`` stored profiles drawn at random (seed 0) through
:class:`~matcher.app.organisations.OrganisationCache`, as a serving process keeps them,
and prints the memory Python allocated for them (``tracemalloc``), in all and per profile.
"""

from __future__ import annotations

import argparse
import random
import tracemalloc
from pathlib import Path

from machine import describe

from matcher.app.organisations import OrganisationCache
from matcher.store import STORE_FILE, Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    with Store(args.home / STORE_FILE) as store:
        ids = store.organisation_ids()
        picked = random.Random(0).sample(ids, min(args.size, len(ids)))
        cache = OrganisationCache(store, args.size)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for start in range(0, len(picked), 10):  # ten at a time, as lists read them
            cache.get_organisations(picked[start : start + 10])
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"machine: {describe()}")
    print(f"home: {args.home} ({len(ids):,} organisations)")
    print(
        f"organisation cache full ({len(cache):,} profiles): {size / 2**20:.1f} MiB, "
        f"{size / max(len(cache), 1) / 1024:.1f} KiB a profile (tracemalloc)"
    )


if __name__ == "__main__":
    main()
