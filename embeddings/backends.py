"""Faster inference backends for sentence-transformers models: ONNX Runtime and OpenVINO.

A backend is named by a string that is also part of every cache key:

- ``onnx``: ONNX Runtime, fp32. The model is exported offline from its local files with
  ``torch.onnx`` and its attention, GELU and layer norms fused by ONNX Runtime's transformer
  optimiser; vectors agree with torch to ~1e-6.
- ``onnx-int8``: the fused graph with its weights dynamically quantised to int8, with the
  quantisation configuration chosen for this CPU (see :func:`int8_config`).
- ``openvino``: the unfused fp32 export compiled by OpenVINO's CPU plugin (as fast as
  ``onnx`` on the AVX2 machine measured; an int8 graph from ONNX Runtime's quantiser ran at
  half torch's speed there, so there is no ``openvino-int8``).
- a ``-sNNN`` suffix (``onnx-int8-s128``) sets the window length in tokens, special tokens
  included: longer texts are split into windows and pooled, as everywhere.

Each export is written once into ``<cache_dir>/<model>-<backend>/`` (the window length does
not change the file) through a temporary folder and a rename, and reused while the model's
files are unchanged. Nothing is downloaded: the export reads the model's local files.

Why not sentence-transformers' own ``backend="onnx"``: it needs ``optimum-onnx``, whose
releases require transformers < 4.58 while sentence-transformers 6 requires transformers 5,
so the two cannot be installed together. The export here needs only ``onnx`` and
``onnxruntime`` (plus ``openvino`` for the OpenVINO backends).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from embeddings.encoder import (
    DEFAULT_MODEL,
    model_digest,
    pool_windows,
    resolve_model,
    split_windows,
)

__all__ = [
    "EXPORT_RECIPE",
    "BackendSpec",
    "OnnxEncoder",
    "cpu_flags",
    "default_cache_dir",
    "export_model",
    "int8_config",
    "parse_backend",
]

logger = logging.getLogger(__name__)

EXPORT_RECIPE = 1
"""Bumped whenever the export or quantisation recipe changes, so old exports are redone."""

_BACKEND = re.compile(r"^(?:(?P<onnx>onnx)(?P<int8>-int8)?|(?P<ov>openvino))(?:-s(?P<seq>\d+))?$")

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]
Runner = Callable[[Int64Array, Int64Array], Float32Array]


@dataclass(frozen=True)
class BackendSpec:
    """A parsed backend name.

    Attributes:
        name: the name as given (part of every cache key).
        runtime: ``onnx`` or ``openvino``.
        int8: weights dynamically quantised to int8.
        max_seq_length: tokens per window, special tokens included (None: the model's).

    """

    name: str
    runtime: str
    int8: bool
    max_seq_length: int | None

    @property
    def export_name(self) -> str:
        """The export this backend runs (the window length does not change the file)."""
        return self.runtime + ("-int8" if self.int8 else "")


def parse_backend(name: str) -> BackendSpec:
    """Parse ``onnx``, ``onnx-int8`` or ``openvino``, with an optional ``-sNNN`` suffix.

    Raises:
        ValueError: not such a name, or a window shorter than 16 tokens.

    """
    match = _BACKEND.match(name)
    if match is None:
        raise ValueError(
            f"unknown backend {name!r}: expected torch, onnx, onnx-int8 or openvino, the last "
            "three optionally followed by -sNNN (tokens per window), e.g. onnx-int8-s128"
        )
    seq = int(match["seq"]) if match["seq"] else None
    if seq is not None and seq < 16:
        raise ValueError(f"backend {name!r}: a window needs at least 16 tokens")
    return BackendSpec(name, "onnx" if match["onnx"] else "openvino", bool(match["int8"]), seq)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where unreadable)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def int8_config(flags: set[str] | None = None) -> dict[str, Any]:
    """Dynamic int8 quantisation settings for this CPU.

    Weights are signed int8, per output channel; activations are quantised to uint8 per
    batch at run time. With VNNI (``avx512_vnni`` or ``avx_vnni``) the u8 x s8 products
    accumulate in int32; without it (plain AVX2, AVX-512 without VNNI) pairs of products
    are summed in int16 with saturation, so weights keep 7 bits (``reduce_range``), as ONNX
    Runtime advises. Unsigned weights (u8 x u8, sentence-transformers' ``avx2`` preset) avoid
    saturation too but ran at half the speed here for no better agreement
    (``benchmarks/results/encoding-*.txt``).
    """
    flags = cpu_flags() if flags is None else flags
    vnni = "avx512_vnni" in flags or "avx_vnni" in flags
    return {
        "cpu": "vnni" if vnni else ("avx2" if "avx2" in flags else "other"),
        "weights": "int8",
        "per_channel": True,
        "reduce_range": not vnni,
    }


def default_cache_dir() -> Path:
    """Where exports go when the caller names no folder: ``$XDG_CACHE_HOME/eccp-matcher``."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "eccp-matcher" / "models"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/")).strip("_") or "model"


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _check_modules(model_path: Path) -> None:
    """Refuse models this backend would encode differently: only Transformer, Pooling, Normalize."""
    modules_file = model_path / "modules.json"
    if not modules_file.is_file():
        return
    with modules_file.open(encoding="utf-8") as f:
        modules = json.load(f)
    allowed = ("models.Transformer", "models.Pooling", "models.Normalize")
    for module in modules:
        kind = str(module.get("type", ""))
        if not kind.endswith(allowed):
            raise ValueError(
                f"{model_path}: module {kind!r} is not supported by the ONNX/OpenVINO backends "
                "(only Transformer, Pooling and Normalize); use backend 'torch'"
            )


def _export_fp32(model_path: Path, out: Path) -> None:
    """Export the transformer to ``out/model.onnx`` (last hidden state) and fuse it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(model_path), local_files_only=True)
    model = AutoModel.from_pretrained(
        str(model_path), attn_implementation="eager", local_files_only=True
    ).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            result = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            )
            hidden: torch.Tensor = result.last_hidden_state
            return hidden

    raw = out / "raw.onnx"
    dummy = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), _quiet_warnings():
        torch.onnx.export(
            _Hidden(model),
            (dummy, dummy),
            str(raw),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
        )
    fused = out / "model.onnx"
    if getattr(config, "model_type", "") in {"bert", "roberta", "xlm-roberta", "mpnet"}:
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
        )
        optimized.save_model_to_file(str(fused))
        logger.info("fused operators: %s", optimized.get_fused_operator_statistics())
    else:
        shutil.copyfile(raw, fused)


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    """Silence the exporters' warnings and the quantiser's per-tensor INFO lines."""
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _quantize_int8(source: Path, target: Path, config: dict[str, Any]) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_warnings():
        quantize_dynamic(
            source,
            target,
            per_channel=config["per_channel"],
            reduce_range=config["reduce_range"],
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )


def _to_openvino(source: Path, target: Path) -> None:
    import openvino as ov

    ov.save_model(ov.convert_model(str(source)), str(target / "model.xml"))


def export_model(model: str, backend: str, cache_dir: Path | None = None) -> Path:
    """Export a model for a backend once; return the export's folder.

    Args:
        model: a packaged model's name or a local sentence-transformers folder.
        backend: ``onnx``, ``onnx-int8`` or ``openvino`` (a ``-sNNN`` suffix is accepted and
            ignored: it does not change the file).
        cache_dir: parent of the export folders (default: :func:`default_cache_dir`).

    The folder holds ``export.json`` (source digest, recipe, versions) beside the model file;
    a folder whose ``export.json`` names another digest, recipe or int8 configuration is
    exported anew.
    """
    spec = parse_backend(backend)
    model_path = resolve_model(model)
    _check_modules(model_path)
    digest = model_digest(model_path)
    root = (cache_dir or default_cache_dir()).expanduser()
    folder = root / f"{_slug(model)}-{spec.export_name}"
    meta: dict[str, Any] = {
        "source_digest": digest,
        "recipe": EXPORT_RECIPE,
        "backend": spec.export_name,
    }
    if spec.int8:
        meta["int8"] = int8_config()
    meta_file = folder / "export.json"
    if _export_is_current(meta_file, meta):
        return folder
    if meta_file.is_file():
        logger.info("export in %s is stale; exporting again", folder)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
    tmp.chmod(0o755)
    try:
        if spec.runtime == "onnx" and not spec.int8:
            logger.info("exporting %s to ONNX in %s", model, folder)
            _export_fp32(model_path, tmp)
            (tmp / "raw.onnx").unlink()
        elif spec.runtime == "onnx":
            fp32 = export_model(model, "onnx", root)
            logger.info("quantising %s to int8 in %s", model, folder)
            _quantize_int8(fp32 / "model.onnx", tmp / "model.onnx", meta["int8"])
        else:
            # OpenVINO reads the unfused graph (the fused one uses ONNX Runtime's own ops).
            logger.info("exporting %s to OpenVINO in %s", model, folder)
            _export_fp32(model_path, tmp)
            _to_openvino(tmp / "raw.onnx", tmp)
            for name in ("raw.onnx", "model.onnx"):
                (tmp / name).unlink(missing_ok=True)
        meta["versions"] = _versions()
        (tmp / "export.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if _export_is_current(meta_file, meta):
            return folder  # another process finished the same export meanwhile
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _export_is_current(meta_file: Path, meta: dict[str, Any]) -> bool:
    if not meta_file.is_file():
        return False
    found = _read_json(meta_file)
    return all(found.get(k) == v for k, v in meta.items())


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for package in ("torch", "transformers", "onnx", "onnxruntime", "openvino"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


# --------------------------------------------------------------------------------------
# Runtimes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Runtime:
    run: Runner
    threads: int
    """Intra-op threads the runtime reports it uses (0: its default)."""
    spinning: bool | None = None
    """Whether the runtime's threads wait for work by spinning between calls (None: the
    runtime does not say; OpenVINO)."""


_SPINNING = "session.intra_op.allow_spinning"


def _onnx_runner(folder: Path, threads: int) -> _Runtime:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        # A set number of threads is for a process that shares its cores (the service's
        # workers): they sleep between calls instead of spinning, ONNX Runtime's default.
        options.add_session_config_entry(_SPINNING, "0")
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(
        str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )

    def run(ids: Int64Array, mask: Int64Array) -> Float32Array:
        out = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    used = session.get_session_options()
    try:
        spinning = used.get_session_config_entry(_SPINNING) != "0"
    except RuntimeError:  # not set: ONNX Runtime's default, spinning
        spinning = True
    return _Runtime(run, int(used.intra_op_num_threads), spinning=spinning)


def _openvino_runner(folder: Path, threads: int) -> _Runtime:
    import openvino as ov

    core = ov.Core()
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = core.compile_model(str(folder / "model.xml"), "CPU", config)
    request = compiled.create_infer_request()

    def run(ids: Int64Array, mask: Int64Array) -> Float32Array:
        result = request.infer({"input_ids": ids, "attention_mask": mask})
        return np.asarray(result[compiled.output(0)], dtype=np.float32)

    return _Runtime(run, int(compiled.get_property("INFERENCE_NUM_THREADS")))


# --------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------


class OnnxEncoder:
    """A sentence-transformers model run by ONNX Runtime or OpenVINO, exported offline.

    Tokenises each text once (the model's ``tokenizer.json``), splits texts longer than a
    window into windows of tokens, runs windows in length-sorted batches (little padding),
    pools each window as the model's pooling module does, normalises, and averages a
    text's windows weighted by their token counts, exactly as
    :class:`embeddings.encoder.SentenceTransformerEncoder` does.

    Args:
        model: a packaged model's name or a local folder.
        backend: see :func:`parse_backend`.
        batch_size: windows per forward pass.
        threads: intra-op threads of the runtime (0 leaves its default: all cores, spinning
            between calls); a set number sleep between calls (ONNX Runtime), for processes
            that share their cores.
        cache_dir: parent of the export folders (default: :func:`default_cache_dir`).

    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        backend: str = "onnx",
        batch_size: int = 32,
        threads: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        self._spec = parse_backend(backend)
        self._name = model
        self._path = resolve_model(model)
        _check_modules(self._path)
        self.batch_size = batch_size
        self._threads = threads
        self._cache_dir = cache_dir
        self._revision = model_digest(self._path)
        self._runtime: _Runtime | None = None
        self._tokenizer: Any = None
        pooling_file = self._path / "1_Pooling" / "config.json"
        pooling = _read_json(pooling_file) if pooling_file.is_file() else {}
        self._cls_pooling = bool(pooling.get("pooling_mode_cls_token", False))
        if any(
            pooling.get(k) for k in ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
        ):
            raise ValueError(f"{self._path}: only mean or CLS pooling is supported")
        config = _read_json(self._path / "config.json")
        self._dimension = int(pooling.get("word_embedding_dimension") or config["hidden_size"])
        st_config_file = self._path / "sentence_bert_config.json"
        st_config = _read_json(st_config_file) if st_config_file.is_file() else {}
        model_max = int(
            st_config.get("max_seq_length") or config.get("max_position_embeddings", 512)
        )
        length = self._spec.max_seq_length or model_max
        self._max_seq_length = min(length, int(config.get("max_position_embeddings", length)))
        tok_config_file = self._path / "tokenizer_config.json"
        tok_config = _read_json(tok_config_file) if tok_config_file.is_file() else {}
        self._cls_token = str(tok_config.get("cls_token") or "[CLS]")
        self._sep_token = str(tok_config.get("sep_token") or "[SEP]")
        self._pad_id = 0

    @property
    def model_id(self) -> str:
        """The model's name as configured."""
        return self._name

    @property
    def revision(self) -> str:
        """A digest of the model's files."""
        return self._revision

    @property
    def backend(self) -> str:
        """The backend's name (part of every cache key)."""
        return self._spec.name

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Tokens per window, special tokens excluded."""
        return self._max_seq_length - 2

    @property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer (``tokenizers.Tokenizer``), loaded on first use."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            path = self._path / "tokenizer.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: the ONNX/OpenVINO backends need tokenizer.json")
            tokenizer = Tokenizer.from_file(str(path))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            for token in (self._cls_token, self._sep_token):
                if tokenizer.token_to_id(token) is None:
                    raise ValueError(f"{path}: no id for special token {token!r}")
            pad = tokenizer.token_to_id("[PAD]")
            self._pad_id = int(pad) if pad is not None else 0
            self._tokenizer = tokenizer
        return self._tokenizer

    @property
    def runtime(self) -> _Runtime:
        """The loaded runtime; the first use exports the model (once) and loads it."""
        if self._runtime is None:
            folder = export_model(self._name, self._spec.name, self._cache_dir)
            logger.info("loading %s (%s) from %s", self._name, self._spec.name, folder)
            if self._spec.runtime == "onnx":
                self._runtime = _onnx_runner(folder, self._threads)
            else:
                self._runtime = _openvino_runner(folder, self._threads)
        return self._runtime

    @property
    def threads(self) -> int:
        """Intra-op threads the loaded runtime uses (0: its default)."""
        return self.runtime.threads

    @property
    def spinning(self) -> bool | None:
        """Whether the loaded runtime's threads spin between calls (None: not known)."""
        return self.runtime.spinning

    def load(self) -> None:
        """Export (once) and load the model now rather than on the first ``encode``."""
        _ = self.runtime

    def windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int], list[int]]:
        """Token ids of each window (special tokens added), owner index and token count."""
        tokenizer = self.tokenizer
        cls_id = int(tokenizer.token_to_id(self._cls_token))
        sep_id = int(tokenizer.token_to_id(self._sep_token))
        encoded = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        windows, owners, lengths = split_windows([e.ids for e in encoded], self.max_tokens)
        chunks = [[cls_id, *window, sep_id] for window in windows]
        return chunks, owners, lengths

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Float32Array:
        """Encode texts into unit-length rows, pooling the windows of long texts."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunks, owners, lengths = self.windows(texts)
        order = sorted(range(len(chunks)), key=lambda j: -len(chunks[j]))
        vectors = np.zeros((len(chunks), self.dimension), dtype=np.float32)
        batches = range(0, len(order), self.batch_size)
        if show_progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="encoding", unit=" batches")  # type: ignore[assignment]
        for start in batches:
            rows = order[start : start + self.batch_size]
            width = len(chunks[rows[0]])
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, j in enumerate(rows):
                ids[r, : len(chunks[j])] = chunks[j]
                mask[r, : len(chunks[j])] = 1
            hidden = self.runtime.run(ids, mask)
            if self._cls_pooling:
                pooled = hidden[:, 0, :]
            else:
                weights = mask[:, :, None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            vectors[rows] = pooled
        return pool_windows(vectors, owners, lengths, len(texts))
