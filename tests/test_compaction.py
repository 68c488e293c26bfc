"""Compaction: a new snapshot built in another process (the default ONNX backend, end to
end) when the change log grows; serving processes switch to it and lose nothing."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embeddings import SentenceTransformerEncoder, read_manifest
from embeddings.artefact import current_folder
from matcher.app.compaction import Compactor, pending_changes
from matcher.app.matcher import Matcher
from matcher.app.settings import Settings
from matcher.domain.schema import Organisation


def probe_of(org: Organisation) -> Organisation:
    return org.model_copy(update={"id": "PROBE"})


def test_compaction_builds_with_onnx_and_serving_follows(
    examples_home: Path, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    home = tmp_path / "home"
    shutil.copytree(examples_home, home, symlinks=True)
    settings = Settings(home=home)  # the default backend: ONNX Runtime
    with Matcher(settings, encoder=encoder) as writer:
        writer.live()
        new = writer.organisation("CL-AGRI-ES").model_copy(
            update={"id": "CL-NEW-IT", "country": "IT", "name": "Nuovo cluster"}
        )
        writer.upsert_organisations([new])
        assert pending_changes(home, writer.store) == 1
        compactor = Compactor(home, writer.store, threshold=2, interval=60)
        assert not compactor.check()  # below the threshold: nothing built
        before = current_folder(home)
        compactor.threshold = 1
        assert compactor.check()
        after = current_folder(home)
        assert after is not None and after != before
        manifest = read_manifest(after)
        assert manifest.backend == "onnx" and manifest.count == 11
        assert pending_changes(home, writer.store) == 0
    with Matcher(settings) as served:  # a new process on the ONNX snapshot, ONNX encoder
        assert served.encoder.backend == "onnx"
        found = served.recommend_profile(probe_of(new), k=3)
        assert found[0].organisation.id in {"CL-NEW-IT", "CL-AGRI-ES"}  # identical texts
        ids = [s.organisation.id for s in served.recommend_profile(probe_of(new), k=11)]
        assert {"CL-NEW-IT", "CL-AGRI-ES"} <= set(ids[:2])


def test_a_failed_build_leaves_the_last_good_snapshot(
    examples_home: Path,
    tmp_path: Path,
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    shutil.copytree(examples_home, home, symlinks=True)
    with Matcher(Settings(home=home), encoder=encoder) as m:
        m.live()
        m.remove_organisation("CL-AGRI-ES")
        before = current_folder(home)
        monkeypatch.setenv("MATCHER_MODEL", "no-such-model")  # the build process fails
        compactor = Compactor(home, m.store, threshold=1, interval=60)
        with pytest.raises(subprocess.CalledProcessError):
            compactor.check()
        assert current_folder(home) == before
        assert pending_changes(home, m.store) == 1
        assert "CL-AGRI-ES" not in [s.organisation.id for s in m.recommend("CL-AGRI-DK", k=9)]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_a_build_keeps_the_home_locked_when_its_server_stops_first(
    examples_home: Path, tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    home = tmp_path / "home"
    shutil.copytree(examples_home, home, symlinks=True)
    with Matcher(Settings(home=home), encoder=encoder) as m:
        m.remove_organisation("CL-AGRI-ES")
    server = subprocess.Popen(  # a serving process that starts a compaction, then dies
        [
            sys.executable, "-c",
            "import sys; from pathlib import Path; from matcher.store import Store; "
            "from matcher.app.compaction import Compactor; home = Path(sys.argv[1]); "
            "Compactor(home, Store(home / 'matcher.sqlite'), threshold=1, interval=0).check()",
            str(home),
        ],
        env={**os.environ, "MATCHER_HOME": str(home)},
    )  # fmt: skip
    build: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not build and time.monotonic() < deadline and server.poll() is None:
            build = _children(server.pid)
            time.sleep(0.05)
        assert build, "the compaction did not start its build"
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        with (
            (home / "compaction.lock").open("w") as lock,
            pytest.raises(BlockingIOError),  # the orphaned build still holds it
        ):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        server.kill()
        for pid in build:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
