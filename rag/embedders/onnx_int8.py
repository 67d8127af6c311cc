"""all-MiniLM-L6-v2 as an int8 ONNX model on onnxruntime (CPU).

Built on first use from the same shipped weights the torch backend loads:
``torch.onnx.export`` of the transformer, then onnxruntime dynamic
quantisation (per channel, MatMul only). Pooling and normalisation are done
here exactly as sentence-transformers does them (mean over the attention mask,
then L2), with the tokenizer from the same folder truncating at 256 word
pieces.

A build is checked against torch on a fixed sample before it is used: if the
mean cosine similarity is below ``MIN_COSINE`` the build is refused and
nothing is cached. A finished build is written as ``model.onnx`` plus
``build.json`` (sha256 of the model file, of the source weights, the library
versions and the measured cosine); a model file whose sha256 no longer matches
is rebuilt rather than trusted.

Where the cache lives is decided by ``get_embedder`` (``<index>/models``, see ``for_index``);
a machine-wide copy under ``RAG_CACHE_DIR/models`` spares every new index the
~30 s build, see ``_seed_from``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..offline import cache_root
from .base import Embedder, model_path

log = logging.getLogger(__name__)

MIN_COSINE = 0.98
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of the shipped model
BUILD_NAME = "all-MiniLM-L6-v2-onnx-int8"
FORMAT = 1  # bump when the build recipe changes: older caches are rebuilt

# The fixed verification sample: briefing-like prose of mixed length (so
# batches are padded), a table row, a question, a one-worder and a text longer
# than 256 word pieces (so truncation is exercised).
SAMPLE = [
    "Chinese and Russian bombers flew a joint patrol over the Sea of Japan and the East China Sea.",
    "Who joined the patrol and where?",
    "ceasefire",
    "| 2023-12-19 | Kunming | Three Brotherhood Alliance | talks resumed under Chinese mediation |",
    "The coast guard used water cannon against a resupply boat near Second Thomas Shoal on Saturday, "
    "injuring several crew members, according to the Philippine task force.",
    "Indonesian authorities seized a foreign fishing vessel in the Natuna waters after a two-day pursuit.",
    "How many attack helicopters were delivered to the Nigerian Air Force in 2023?",
    "A cyberattack disabled mobile and internet services of Ukraine's largest operator for several days.",
    "ECOWAS approved a stabilisation force for Guinea-Bissau following an attempted coup in February.",
    "The Northern Fleet held an exercise in the Barents Sea involving surface ships, submarines and aircraft.",
    "Damage to an undersea fibre-optic cable linking Svalbard to the mainland was reported in January.",
    "Border closure: the Dominican Republic shut all crossings with Haiti over a dispute about a canal.",
    " ".join(
        f"Paragraph {i}: officials reported further movements of troops, vessels and aircraft in the region, "
        f"while analysts cautioned that the figures could not be independently verified."
        for i in range(12)
    ),
    "EU sanctions target Belarusian suppliers of components for drones and armoured vehicles.",
    "Evacuation flights carried more than a thousand foreign nationals out of Niamey within four days.",
    "Japan deployed new missile units to its southwestern islands, including Ishigaki.",
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def _locked(folder: Path):
    """One builder at a time per folder (two processes opening one new index)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _source_weights() -> Path:
    return Path(model_path()) / "model.safetensors"


def valid_build(folder: Path) -> dict | None:
    """The build record of ``folder`` when its files are intact and current."""
    record_path, model = folder / "build.json", folder / "model.onnx"
    if not (record_path.exists() and model.exists() and (folder / "tokenizer.json").exists()):
        return None
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("format") != FORMAT or record.get("min_cosine", 0) < MIN_COSINE:
        return None
    if record.get("source_size") != _source_weights().stat().st_size:
        return None  # the shipped weights changed (package upgrade)
    if sha256_file(model) != record.get("sha256"):
        log.warning("%s: checksum mismatch, rebuilding the ONNX model", model)
        return None
    return record


class OnnxInt8Embedder(Embedder):
    name = "all-MiniLM-L6-v2/onnx-int8"

    def __init__(self, cache_dir: str | os.PathLike, shared_dir: str | os.PathLike | None = None) -> None:
        self.folder = Path(cache_dir) / BUILD_NAME
        self.record = ensure_built(self.folder, Path(shared_dir) / BUILD_NAME if shared_dir else None)
        self._load()

    @classmethod
    def for_index(cls, models_dir: str) -> OnnxInt8Embedder:
        """Built in the index's ``models_dir``, seeded from the machine-wide copy when there is one."""
        return cls(models_dir, shared_dir=cache_root() / "models")

    def _load(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = int(os.environ.get("RAG_ONNX_THREADS", "0"))  # 0: one per core
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = _tokenizer(self.folder / "tokenizer.json")

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return _run(self.session, self.inputs, self.tokenizer, texts)


def _tokenizer(path: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=MAX_SEQ_LENGTH)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    return tok


def _run(session, inputs: set[str], tokenizer, texts: list[str]) -> np.ndarray:
    encoded = tokenizer.encode_batch(texts)
    ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in inputs:
        feed["token_type_ids"] = np.zeros_like(ids)
    hidden = session.run(None, feed)[0]
    # sentence-transformers Pooling(mean) then Normalize
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def ensure_built(folder: Path, shared: Path | None = None) -> dict:
    """The build record of a verified int8 model in ``folder``, building it if needed."""
    record = valid_build(folder)
    if record:
        return record
    with _locked(folder.parent):
        record = valid_build(folder)  # another process may have finished it meanwhile
        if record:
            return record
        if shared is not None and shared != folder and _seed_from(shared, folder):
            return valid_build(folder) or build(folder)
        record = build(folder)
    if shared is not None and shared != folder:
        try:
            with _locked(shared.parent):
                if not valid_build(shared):
                    copy_build(folder, shared)
        except OSError as exc:  # a read-only home is no reason to fail
            log.info("could not store the ONNX model in %s: %s", shared, exc)
    return record


def copy_build(src: Path, dst: Path) -> None:
    """Copy a finished build folder to ``dst`` through a temporary name, so no reader sees half a copy."""
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("model.onnx", "tokenizer.json", "build.json"):
        try:
            os.link(src / name, tmp / name)  # same file system: no copy at all
        except OSError:
            shutil.copyfile(src / name, tmp / name)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def _seed_from(shared: Path, folder: Path) -> bool:
    """Copy a verified machine-wide build into ``folder``; False when there is none."""
    try:
        with _locked(shared.parent):
            if not valid_build(shared):
                return False
            copy_build(shared, folder)
        return True
    except OSError:
        return False


def build(folder: Path) -> dict:
    """Export, quantise, verify against torch, then publish ``folder`` atomically."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    t0 = time.perf_counter()
    source = Path(model_path())
    tmp = folder.with_name(folder.name + f".build{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        log.warning("building the int8 ONNX embedder in %s (once; about half a minute)", folder)
        model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()

        class Transformer(torch.nn.Module):
            # keyword arguments: BertModel.forward's positional order changed across transformers releases
            def __init__(self, inner) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
                )
                return out.last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in names)
        axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # dynamo=False: the TorchScript exporter needs no onnxscript
            torch.onnx.export(
                Transformer(model),
                dummy,
                str(tmp / "fp32.onnx"),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        del model
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic's "consider pre-processing" nag
        try:
            quantize_dynamic(
                str(tmp / "fp32.onnx"),
                str(tmp / "model.onnx"),
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                weight_type=QuantType.QInt8,
            )
        finally:
            root.setLevel(level)
        (tmp / "fp32.onnx").unlink()
        shutil.copyfile(source / "tokenizer.json", tmp / "tokenizer.json")
        return publish(tmp, folder, time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp: Path, folder: Path, seconds: float = 0.0) -> dict:
    """Verify the model in ``tmp`` against torch; if it agrees, record it and move it to ``folder``."""
    import onnxruntime as ort
    import torch

    source = Path(model_path())
    t0 = time.perf_counter()
    cosine = verify(tmp)
    if cosine < MIN_COSINE:
        raise RuntimeError(
            f"the int8 ONNX model agrees with torch at mean cosine {cosine:.4f} < {MIN_COSINE} "
            f"on the verification sample; refusing to use it (set RAG_EMBED_BACKEND=torch)"
        )
    record = {
        "format": FORMAT,
        "model": "all-MiniLM-L6-v2",
        "sha256": sha256_file(tmp / "model.onnx"),
        "source_sha256": sha256_file(source / "model.safetensors"),
        "source_size": (source / "model.safetensors").stat().st_size,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "min_cosine": MIN_COSINE,
        "mean_cosine": round(cosine, 5),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "build_seconds": round(seconds + time.perf_counter() - t0, 1),
    }
    (tmp / "build.json").write_text(json.dumps(record, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return record


def verify(folder: Path) -> float:
    """Mean cosine between this build and sentence-transformers on ``SAMPLE``.

    Encoded in two batch shapes (all at once, padded; and one by one) so a
    shape baked in by tracing would show up as disagreement.
    """
    import onnxruntime as ort

    from .torch_backend import TorchEmbedder

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    tok = _tokenizer(folder / "tokenizer.json")
    batched = _run(session, inputs, tok, SAMPLE)
    single = np.concatenate([_run(session, inputs, tok, [t]) for t in SAMPLE])
    reference = TorchEmbedder().encode(SAMPLE)
    cos = np.concatenate([(batched * reference).sum(axis=1), (single * reference).sum(axis=1)])
    return float(cos.mean())
