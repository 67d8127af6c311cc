"""BM25 over the catalog's chunks (bm25s), saved beside the index.

The saved model records the catalog generation it was built from; a stale one
is rebuilt from the catalog, so BM25 always agrees with what SQLite (and so
Chroma) holds, in embedded and in server mode alike.
"""

from __future__ import annotations

import json
import shutil
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from .catalog import Catalog, Filters


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class Lexical:
    def __init__(self, catalog: Catalog, folder: Path) -> None:
        self.catalog = catalog
        self.folder = folder
        self._lock = threading.Lock()
        self._model = None
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._generation = -1

    def _load_or_build(self) -> None:
        import bm25s

        generation = self.catalog.generation
        if generation == self._generation:
            return
        stamp = self.folder / "stamp.json"
        if stamp.exists() and json.loads(stamp.read_text()).get("generation") == generation:
            model = bm25s.BM25.load(str(self.folder / "model"))
            ids = json.loads((self.folder / "ids.json").read_text())
        else:
            chunks = self.catalog.all_chunks()
            ids = [c.chunk_id for c in chunks]
            model = None
            if chunks:
                model = bm25s.BM25()
                model.index(tokenize([c.search_text for c in chunks]), show_progress=False)
            self._save(model, ids, generation)
        self._model, self._ids, self._generation = model, ids, generation
        self._row = {cid: i for i, cid in enumerate(ids)}

    def _save(self, model, ids: list[str], generation: int) -> None:
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if model is not None:
            model.save(str(tmp / "model"))
        (tmp / "ids.json").write_text(json.dumps(ids))
        (tmp / "stamp.json").write_text(json.dumps({"generation": generation}))
        old = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)

    def refresh(self) -> None:
        with self._lock:
            self._load_or_build()

    def search(self, query: str, k: int, filters: Filters) -> list[tuple[str, float]]:
        """Chunk ids with BM25 scores, best first; filtered chunks score zero."""
        with self._lock:
            self._load_or_build()
            model, ids = self._model, self._ids
            mask = None
            if filters:
                mask = np.zeros(len(ids), dtype=np.float32)
                rows = [self._row[c] for c in self.catalog.chunk_ids(filters) if c in self._row]
                mask[rows] = 1.0
        tokens = tokenize([query])
        if model is None or not tokens[0]:
            return []
        k = min(k, len(ids))
        found, scores = model.retrieve(tokens, k=k, weight_mask=mask, show_progress=False, n_threads=1)
        return [(ids[int(i)], float(s)) for i, s in zip(found[0], scores[0]) if s > 0]
