"""Group scores through the facade: kept while the state stands, scored afresh after a write."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from embeddings import SentenceTransformerEncoder
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings


def test_group_scores_are_kept_until_a_write(
    examples_home: Path, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    home = tmp_path / "home"
    shutil.copytree(examples_home, home)
    with Matcher(Settings(home=home), encoder=encoder) as m:
        ids = m.store.organisation_ids()[:6]
        orgs = list(m.store.get_organisations(ids).values())
        first = m.score_group(orgs)
        twice = list(reversed(orgs + orgs[:2]))
        # each organisation once, in first-seen order: another group, scored afresh
        assert m.score_group(twice).ids == list(dict.fromkeys(o.id for o in twice))
        again = m.score_group(orgs)
        assert again is first  # the same group against the same state: kept
        assert np.allclose(first.matrix, first.matrix.T) and (first.matrix >= 0).all()
        changed = orgs[0].model_copy(update={"description": "Quantum sensors for ports."})
        m.upsert_organisations([changed])
        after = m.score_group([changed, *orgs[1:]])
        assert after is not first  # the state moved on: scored afresh
        assert not np.allclose(after.matrix[0], first.matrix[0])
