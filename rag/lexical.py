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


class Lexical:
    def __init__(self, catalog: Catalog, folder: Path) -> None:
        self.catalog = catalog
        self.folder = folder
        self._lock = threading.Lock()
        self._model = None
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._generation = -1
        self._meta: tuple[np.ndarray, np.ndarray, dict[str, int]] | None = None  # per row: region code, date

    def _row_meta(self) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """Region code and yyyymmdd (-1: none) of every BM25 row, read once per generation.

        Filter masks are then numpy comparisons instead of a SQL join returning
        every matching chunk id per query (~0.5 s at 100k chunks on 2 busy cores).
        """
        if self._meta is None:
            regions = np.full(len(self._ids), -1, dtype=np.int32)
            dates = np.full(len(self._ids), -1, dtype=np.int32)
            codes: dict[str, int] = {}
            rows = self.catalog._conn().execute(
                "SELECT c.chunk_id, lower(d.region), d.date FROM chunks c JOIN documents d USING(doc_id)"
            )
            for cid, region, date in rows:
                i = self._row.get(cid)
                if i is None:
                    continue
                if region is not None:
                    regions[i] = codes.setdefault(region, len(codes))
                if date:
                    try:
                        dates[i] = int(date[:10].replace("-", ""))
                    except ValueError:
                        pass
            self._meta = (regions, dates, codes)
        return self._meta

    def _mask(self, filters: Filters) -> np.ndarray:
        """1.0 for rows that pass ``filters``: the same rules as ``Filters.sql``."""
        if filters.sources:  # rare, and matched by path or file name: ask the catalog
            mask = np.zeros(len(self._ids), dtype=np.float32)
            rows = [self._row[c] for c in self.catalog.chunk_ids(filters) if c in self._row]
            mask[rows] = 1.0
            return mask
        regions, dates, codes = self._row_meta()
        keep = np.ones(len(self._ids), dtype=bool)
        if filters.regions:
            wanted = [codes[r.lower()] for r in filters.regions if r.lower() in codes]
            keep &= np.isin(regions, wanted)
        if filters.date_from:
            keep &= dates >= int(filters.date_from.replace("-", ""))
        if filters.date_to:
            keep &= (dates >= 0) & (dates <= int(filters.date_to.replace("-", "")))
        return keep.astype(np.float32)

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
        self._meta = None

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

    def allowed_ids(self, filters: Filters, limit: int = 20000) -> list[str] | None:
        """Chunk ids passing region/date ``filters``; None for source filters or more than ``limit`` ids."""
        if not filters or filters.sources:
            return None
        with self._lock:
            self._load_or_build()
            rows = np.flatnonzero(self._mask(filters))
            if len(rows) > limit:
                return None
            ids = self._ids
            return [ids[i] for i in rows]

    def search(self, query: str, k: int, filters: Filters) -> list[tuple[str, float]]:
        """Chunk ids with BM25 scores, best first; filtered chunks score zero."""
        with self._lock:
            self._load_or_build()
            model, ids = self._model, self._ids
            mask = self._mask(filters) if filters else None
        tokens = tokenize([query])
        if model is None or not tokens[0]:
            return []
        k = min(k, len(ids))
        found, scores = model.retrieve(tokens, k=k, weight_mask=mask, show_progress=False, n_threads=1)
        return [(ids[int(i)], float(s)) for i, s in zip(found[0], scores[0]) if s > 0]
