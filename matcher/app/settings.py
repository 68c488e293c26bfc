"""Settings from the environment (``MATCHER_*``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from matcher.store.store import STORE_FILE

__all__ = ["Settings", "settings_table"]


class Settings(BaseSettings):
    """Everything configurable, each field read from ``MATCHER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MATCHER_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path("~/.eccp-matcher"),
        description="folder holding all state: the SQLite store, builds, reports",
    )
    model: str = Field(
        default="all-MiniLM-L6-v2",
        description="embedding model: a packaged model's name or a local folder",
    )
    backend: str = Field(
        default="onnx",
        pattern=r"^(torch|onnx|onnx-int8|openvino)(-s\d{2,4})?$",
        description="encoder backend: torch, onnx (default), onnx-int8 or openvino; "
        "all but torch take -sNNN, tokens per window",
    )
    batch_size: int = Field(default=32, ge=1, le=1024, description="texts per encoder batch")
    threads: int = Field(
        default=0,
        ge=0,
        description="encoder threads; 0: the backend's default (every core) for the CLI, "
        "two per worker in the service (its workers share the cores); a set number sleep "
        "between calls instead of spinning (ONNX Runtime)",
    )
    write_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="niceness added to the two threads that encode and search for profile "
        "writes (Linux), so that requests come first when the cores are busy; 0: the "
        "request's own thread and a second one at its priority",
    )
    log_level: str = Field(default="INFO", description="logging level of the CLI and service")
    keep_builds: int = Field(default=2, ge=1, description="artefact folders kept on disk")
    api_key: SecretStr | None = Field(default=None, description="key for write endpoints")
    ranker: Literal["auto", "listwise", "linear", "hand"] = Field(
        default="auto",
        description="how a build ranks: auto (learned from the store's history when there is "
        "enough, LightGBM LambdaRank), listwise, linear (logistic regression) or hand weights",
    )
    training_queries: int = Field(
        default=5000, ge=10, le=100_000,
        description="organisations sampled from the store's history to learn the ranker from",
    )  # fmt: skip
    training_lag: int = Field(
        default=1, ge=1, le=5,
        description="years between the state a build learns its ranker from and the latest "
        "collaboration: 1 learns from the state a year before with the following year's new "
        "partnerships as labels (the most recent year as input); 2 from two years before with "
        "two years of labels (on CORDIS nDCG@10 fell from 0.157 to 0.057, see "
        "docs/benchmarks.md); the calibration is learnt one year further back",
    )  # fmt: skip
    pool_two_hop: int = Field(
        default=200, ge=0, le=5000,
        description="candidates taken from an organisation's partners' partners per request "
        "(the best by Adamic–Adar and degree); a build learns with the same pool",
    )  # fmt: skip
    pool_three_hop: int = Field(
        default=0, ge=0, le=5000,
        description="candidates taken three hops away per request (best by the walk score "
        "through the strongest two-hop rows); 0: none",
    )  # fmt: skip
    organisation_cache: int = Field(
        default=4096, ge=0, le=1_000_000,
        description="stored profiles each process keeps in memory to show in lists (the "
        "most recently shown; forgotten as their changes are applied); 0: read every one "
        "from the store",
    )  # fmt: skip
    ann_min_rows: int = Field(
        default=1_000_000, ge=0,
        description="snapshots of at least this many organisations search their vectors "
        "approximately (FAISS IVF-PQ with an exact re-rank, indexes built with the "
        "snapshot); smaller ones exactly; 0: always exact (see docs/decisions.md)",
    )  # fmt: skip
    compact_after: int = Field(
        default=5000, ge=1,
        description="changes logged since the current snapshot that make the service build "
        "a new one in the background",
    )  # fmt: skip
    max_same_country: int | None = Field(
        default=3, ge=0, le=10,
        description="at most this many of every ten suggestions share the asking "
        "organisation's country (cross-border default); unset: no limit",
    )  # fmt: skip
    target_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="share of a list reserved for the asking organisation's target countries",
    )  # fmt: skip
    max_hubs: int | None = Field(
        default=None,
        ge=0,
        description="at most this many of the best-connected 1 % per list; unset: no limit "
        "(the default: on CORDIS a limit of 3 cost 17 % of nDCG@10, see docs/benchmarks.md)",
    )
    read_key_required: bool = Field(
        default=False, description="the service's read endpoints need the API key too"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins the service allows cross-site (JSON list); empty: CORS closed",
    )
    max_body_bytes: int = Field(
        default=2_000_000, ge=1_024, description="largest request body the service accepts"
    )
    max_in_flight: int = Field(
        default=64,
        ge=0,
        description="requests the service handles at once; more get 503 'overloaded' at once "
        "(0: no limit)",
    )
    ranking_slots: int = Field(
        default=2,
        ge=1,
        le=64,
        description="rankings (GET /recommend, POST /recommend with a profile) a service "
        "worker runs at once; the others wait in line",
    )
    queue_budget: float = Field(
        default=0.02,
        ge=0,
        le=60,
        description="seconds a ranking may expect to wait in line; a request expecting more "
        "gets 503 'overloaded' at once (0: no bound)",
    )
    body_timeout: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="seconds a request's body may take to arrive, from its headers on; a "
        "slower sender gets 408 'body_timeout' and its connection is closed",
    )
    keep_alive_timeout: int = Field(
        default=5,
        ge=1,
        le=300,
        description="seconds an idle keep-alive connection stays open between requests",
    )
    anonymous_rate: float = Field(
        default=10.0,
        ge=0,
        description="requests per second each client address may make without a valid API "
        "key (a token bucket; more get 429 'rate_limited' with Retry-After; 0: no limit)",
    )
    anonymous_burst: int = Field(
        default=20,
        ge=1,
        description="the token bucket's size: requests a client without a key may make at "
        "once before the rate applies",
    )
    completion_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="consortium completions (POST /recommend with 'seed') computed at once; "
        "twice as many more may wait, further ones get 503 'busy'",
    )
    completion_time_limit: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="seconds a consortium completion may take, waiting included, before the "
        "request is answered 503 'time_limit'",
    )
    follow: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="a follower on another host: the writer's URL (e.g. http://writer:8000); "
        "this server serves a copy of the writer's home (`matcher copy-home`), follows the "
        "writer's changes and snapshots with MATCHER_API_KEY, builds nothing and refuses "
        "writes (docs/operations.md)",
    )
    follow_interval: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="a follower's seconds between asks for the writer's changes once caught up",
    )

    @property
    def home_path(self) -> Path:
        """``home`` with ``~`` expanded."""
        return self.home.expanduser()

    @property
    def store_path(self) -> Path:
        """The SQLite file."""
        return self.home_path / STORE_FILE


def settings_table() -> str:
    """The settings as a Markdown table (``docs/configuration.md`` is made from it)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default is None:
            shown = "unset"
        elif isinstance(default, list | Path):
            shown = f"`{default}`"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        text = " ".join((field.description or "").split())
        rows.append(f"| `MATCHER_{name.upper()}` | {shown} | {text} |")
    return "\n".join(rows) + "\n"
