"""BM25 over the catalog's chunks (bm25s), saved beside the index.

The saved model records the catalog generation it was built from; a stale one
is rebuilt from the catalog, so BM25 always agrees with what SQLite (and so
Chroma) holds, in embedded and in server mode alike.
"""

from __future__ import annotations

import json
import os
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


def _best(scores: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` of ``rows`` (ascending) that score highest and above zero, best first; ties in row order.

    Only the allowed rows are ranked: bm25s's ``weight_mask`` would zero all the
    others, and its ``np.argpartition`` over 100k scores that are nearly all
    equal zeros takes ~50 ms where unmasked scores take ~1 ms (2 busy cores).
    """
    hits = rows[scores[rows] > 0]
    if 0 < k < len(hits):  # keep those at least as good as the k-th best, so ties at the cut go by row too
        cut = len(hits) - k
        hits = hits[scores[hits] >= np.partition(scores[hits], cut)[cut]]
    return hits[np.argsort(-scores[hits], kind="stable")][:k]


class Lexical:
    def __init__(self, catalog: Catalog, folder: Path) -> None:
        self.catalog = catalog
        self.folder = folder
        self._lock = threading.Lock()
        self._model = None
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._generation = -1
        self._docs: tuple[np.ndarray, dict[str, int]] | None = None

    def _doc_rows(self) -> tuple[np.ndarray, dict[str, int]]:
        """Per BM25 row the code of its document (-1: none), and doc_id -> code; read once per generation.

        Filter masks are then numpy comparisons instead of a SQL join returning
        every allowed chunk id per query (~0.5 s at 100k chunks on 2 busy cores).
        """
        if self._docs is None:
            rows = np.full(len(self._ids), -1, dtype=np.int32)
            codes: dict[str, int] = {}
            for cid, doc_id in self.catalog.chunk_doc_ids():
                i = self._row.get(cid)
                if i is not None:
                    rows[i] = codes.setdefault(doc_id, len(codes))
            self._docs = (rows, codes)
        return self._docs

    def _rows_of(self, doc_ids: frozenset[str]) -> np.ndarray:
        rows, codes = self._doc_rows()
        return np.isin(rows, [codes[d] for d in doc_ids if d in codes])

    def _allowed(self, filters: Filters) -> np.ndarray | None:
        """Per row whether the catalog allows its document under ``filters``; None: everything is allowed."""
        allowed = self.catalog.allowed_doc_ids(filters)
        return None if allowed is None else self._rows_of(allowed)

    def _load_or_build(self) -> None:
        import bm25s

        generation = self.catalog.generation
        if generation == self._generation:
            return
        loaded = self._load_saved(generation)
        if loaded is not None:
            model, ids = loaded
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
        self._docs = None

    def _load_saved(self, generation: int):
        """The saved model if it is of ``generation`` and read whole; None means rebuild.

        Another process may replace the folder while we read it, so the
        stamp is read before and after, and any read error means rebuild.
        """
        import bm25s

        stamp = self.folder / "stamp.json"
        try:
            if json.loads(stamp.read_text()).get("generation") != generation:
                return None
            model = bm25s.BM25.load(str(self.folder / "model"))
            ids = json.loads((self.folder / "ids.json").read_text())
            if json.loads(stamp.read_text()).get("generation") != generation:
                return None
        except (OSError, ValueError, KeyError):
            return None
        return model, ids

    def _save(self, model, ids: list[str], generation: int) -> None:
        """Save as a cache: unique temporary names (several processes may save at once); failure is harmless."""
        unique = f"{os.getpid()}-{threading.get_ident()}"
        tmp = self.folder.with_name(f"{self.folder.name}.tmp-{unique}")
        old = self.folder.with_name(f"{self.folder.name}.old-{unique}")
        try:
            tmp.mkdir(parents=True)
            if model is not None:
                model.save(str(tmp / "model"))
            (tmp / "ids.json").write_text(json.dumps(ids))
            (tmp / "stamp.json").write_text(json.dumps({"generation": generation}))
            if self.folder.exists():
                self.folder.rename(old)
            tmp.rename(self.folder)
        except OSError:
            pass  # another process saved first; the in-memory model is what this one uses
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)

    def refresh(self) -> None:
        with self._lock:
            self._load_or_build()

    def forget(self) -> None:
        """Drop the model in memory: the next use reads the saved files again, as a fresh process would."""
        with self._lock:
            self._generation = -1

    def discard_saved(self) -> None:
        """Invalidate the saved model and drop the one in memory: the next use rebuilds from the catalog."""
        with self._lock:
            (self.folder / "stamp.json").unlink(missing_ok=True)
            self._generation = -1

    def ids(self) -> list[str]:
        """The chunk ids the model holds, in row order (brought up to date with the catalog first)."""
        with self._lock:
            self._load_or_build()
            return list(self._ids)

    def filter_mask(self, filters: Filters) -> np.ndarray:
        """Per row (``ids()`` order) 1.0 if the catalog allows its document under ``filters``, else 0.0.

        The rows ``search`` ranks when there are filters.
        """
        with self._lock:
            self._load_or_build()
            allowed = self._allowed(filters)
            return np.ones(len(self._ids), dtype=np.float32) if allowed is None else allowed.astype(np.float32)

    def chunk_ids_of(self, doc_ids: frozenset[str], limit: int) -> list[str] | None:
        """The chunk ids of ``doc_ids``; None when there are more than ``limit``."""
        with self._lock:
            self._load_or_build()
            rows = np.flatnonzero(self._rows_of(doc_ids))
            if len(rows) > limit:
                return None
            ids = self._ids
            return [ids[i] for i in rows]

    def search(self, query: str, k: int, filters: Filters) -> list[tuple[str, float]]:
        """Chunk ids with BM25 scores, best first; chunks the filters exclude are never returned."""
        with self._lock:
            self._load_or_build()
            model, ids = self._model, self._ids
            allowed = self._allowed(filters) if filters else None
        tokens = tokenize([query])
        if model is None or not tokens[0]:
            return []
        if allowed is None:
            found, scores = model.retrieve(tokens, k=min(k, len(ids)), show_progress=False, n_threads=1)
            return [(ids[int(i)], float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]
        scores = model.get_scores(tokens[0])
        return [(ids[i], float(scores[i])) for i in _best(scores, np.flatnonzero(allowed), k)]
