"""``rag bench``: speed and memory at 1k, 10k and 100k chunks, on this machine.

For each size a deterministic synthetic archive is written (seeded Markdown
briefings shaped like the real ones: title, ``Date:``/``Region:`` lines,
sections of 100-190 tokens, the odd table), then two child processes measure:

* **ingest** — raw encoder chunks/s on a seeded sample of the archive's own
  chunks (``Embedder.encode``, the same backend and batch size ingest uses),
  then ingest chunks/s of the whole archive through the real pipeline into a
  fresh index (reading, chunking, embedding, Chroma, catalog, BM25 rebuild),
  and their ratio; peak RSS of that process.
* **serve** — a cold process that opens the index and answers: start-up to
  first answer (from process creation, imports included), index load time,
  retrieval latency (dense, BM25, hybrid, and each with region + date
  filters), full extractive ``ask`` latency, peak RSS.

Each phase runs in its own process so one size's memory does not leak into
the next and "start-up" means a real cold start (the OS file cache is warm,
as it is for an analyst who ingested the archive). Results go to
``OUT/bench.json``, ``OUT/bench.md`` and ``OUT/bench.png``.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# -- the synthetic archive -----------------------------------------------------

REGIONS = [
    "East Asia",
    "South-East Asia",
    "South Asia",
    "Middle East",
    "Eastern Europe",
    "West Africa",
    "Central Africa",
    "Horn of Africa",
    "Arctic",
    "Caribbean",
    "Central Asia",
    "South America",
]
COUNTRIES = [
    "China",
    "Russia",
    "Japan",
    "South Korea",
    "North Korea",
    "Philippines",
    "Vietnam",
    "Indonesia",
    "Malaysia",
    "India",
    "Pakistan",
    "Bangladesh",
    "Iran",
    "Iraq",
    "Saudi Arabia",
    "Yemen",
    "Ukraine",
    "Belarus",
    "Poland",
    "Lithuania",
    "Nigeria",
    "Niger",
    "Mali",
    "Ghana",
    "Guinea",
    "Sierra Leone",
    "Cameroon",
    "Chad",
    "Sudan",
    "Ethiopia",
    "Somalia",
    "Kenya",
    "Norway",
    "Finland",
    "Haiti",
    "Dominican Republic",
    "Kazakhstan",
    "Kyrgyzstan",
    "Venezuela",
    "Colombia",
    "Brazil",
    "Turkey",
    "France",
    "United States",
    "Australia",
]
PLACES = [
    "the Strait of Malacca",
    "the East China Sea",
    "the Sea of Japan",
    "the Barents Sea",
    "the Gulf of Aden",
    "the Red Sea",
    "the Gulf of Guinea",
    "the Black Sea",
    "the Baltic Sea",
    "the Caribbean Sea",
    "the Andaman Sea",
    "the Spratly Islands",
    "the Paracel Islands",
    "the Natuna Islands",
    "Svalbard",
    "the Sahel",
    "Lake Chad",
    "the Ferghana Valley",
    "the Essequibo region",
    "the Darien Gap",
    "the Line of Actual Control",
    "the northern border",
    "the capital",
    "the port city",
    "the eastern provinces",
    "the coastal highway",
    "the mining district",
    "the river delta",
    "the mountain passes",
    "the refugee camps",
]
FORCES = [
    "the navy",
    "the coast guard",
    "the air force",
    "border guards",
    "special forces",
    "a marine brigade",
    "militia fighters",
    "an armed group",
    "the national police",
    "peacekeepers",
    "naval infantry",
    "a rapid reaction force",
    "intelligence services",
    "a cyber unit",
    "customs officers",
]
EQUIPMENT = [
    "patrol vessels",
    "frigates",
    "corvettes",
    "attack helicopters",
    "transport aircraft",
    "drones",
    "armoured vehicles",
    "fighter jets",
    "submarines",
    "missile launchers",
    "radar stations",
    "fast boats",
    "maritime patrol aircraft",
    "artillery pieces",
    "air defence systems",
]
EVENTS = [
    ("joint exercise", "held a joint exercise"),
    ("air patrol", "flew a joint air patrol"),
    ("vessel seizure", "seized a vessel"),
    ("cyberattack", "reported a cyberattack"),
    ("sanctions package", "announced sanctions"),
    ("border clash", "clashed with troops"),
    ("evacuation", "evacuated foreign nationals"),
    ("deployment", "deployed new units"),
    ("ceasefire talks", "opened ceasefire talks"),
    ("cable damage", "reported damage to an undersea cable"),
    ("arms delivery", "took delivery of new equipment"),
    ("election deployment", "deployed security forces for the election"),
]
OFFICIALS = [
    "defence ministry",
    "foreign ministry",
    "joint staff",
    "coast guard command",
    "interior ministry",
    "presidential office",
    "regional bloc",
    "United Nations mission",
    "state news agency",
    "army spokesperson",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
SECTIONS = [
    "Summary",
    "Background",
    "What happened",
    "Forces involved",
    "Reactions",
    "Assessment",
    "Timeline",
    "Casualties and damage",
    "Diplomatic response",
    "Outlook",
    "Equipment",
    "Sources",
]

_TEMPLATES = [
    "On {day} {month} {year} {force} of {c1} {verb} near {place}, according to the {official} of {c1}.",
    "The {official} of {c2} said that {n} {equip} took part and that the operation lasted {h} hours.",
    "Observers in {c2} described the move as a signal to {c3}, while {c1} called it routine.",
    "{n} {equip} were reported near {place} between {day} and {day2} {month}.",
    "A spokesperson for the {official} of {c3} expressed concern and asked {c1} for an explanation.",
    "Analysts noted that this was the {ord} such {event} involving {c1} since {year0}.",
    "Local officials said {k} people were detained and {m} were injured during the incident near {place}.",
    "The {event} followed weeks of tension between {c1} and {c2} over access to {place}.",
    "Satellite images reviewed by independent researchers showed {equip} moving towards {place}.",
    "{c2} summoned the ambassador of {c1} on {day2} {month} to lodge a formal protest.",
    "No weapons were fired, and neither side reported a violation of its territory or airspace.",
    "The {official} of {c1} put the cost of the damage at {money} million dollars.",
    "Shipping companies rerouted {k} vessels away from {place} as a precaution.",
    "Talks mediated by {c3} are expected to resume in {month2} {year}.",
]
_ORD = ["second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]


def _sentence(rng: random.Random, ctx: dict) -> str:
    template = rng.choice(_TEMPLATES)
    values = dict(ctx)
    values.update(
        place=rng.choice(PLACES),
        equip=rng.choice(EQUIPMENT),
        official=rng.choice(OFFICIALS),
        force=rng.choice(FORCES),
        n=rng.randint(2, 40),
        h=rng.randint(2, 30),
        k=rng.randint(2, 300),
        m=rng.randint(1, 60),
        money=rng.randint(1, 900),
        day2=rng.randint(1, 28),
        ord=rng.choice(_ORD),
        month2=rng.choice(MONTHS),
    )
    text = template.format(**values)
    return text[0].upper() + text[1:]


def briefing(rng: random.Random, serial: int) -> tuple[str, dict]:
    """One Markdown briefing and its facts (for questions and filters)."""
    c1, c2, c3 = rng.sample(COUNTRIES, 3)
    event, verb = rng.choice(EVENTS)
    year = rng.randint(2015, 2025)
    ctx = {
        "c1": c1,
        "c2": c2,
        "c3": c3,
        "event": event,
        "verb": verb,
        "year": year,
        "year0": year - rng.randint(2, 8),
        "month": rng.choice(MONTHS),
        "day": rng.randint(1, 28),
    }
    region = rng.choice(REGIONS)
    title = f"{c1} {event} involving {c2} (briefing {serial:06d})"
    date = f"{year}-{MONTHS.index(ctx['month']) + 1:02d}-{ctx['day']:02d}"
    parts = [f"# {title}\n", f"Date: {date}", f"Region: {region}\n"]
    for section in rng.sample(SECTIONS, rng.randint(6, 10)):
        parts.append(f"## {section}\n")
        if section == "Equipment" and rng.random() < 0.5:
            rows = ["| Country | Equipment | Number |", "|---|---|---|"]
            rows += [
                f"| {rng.choice([c1, c2])} | {rng.choice(EQUIPMENT)} | {rng.randint(1, 60)} |"
                for _ in range(rng.randint(3, 8))
            ]
            parts.append("\n".join(rows) + "\n")
            continue
        # ~100-190 cl100k tokens: one chunk per section at the default 200
        sentences = [_sentence(rng, ctx) for _ in range(rng.randint(4, 7))]
        cut = len(sentences) // 2
        parts.append(" ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:]) + "\n")
    facts = {"c1": c1, "c2": c2, "event": event, "region": region, "year": year}
    return "\n".join(parts), facts


def generate(folder: Path, chunks: int, seed: int = 0, settings=None) -> dict:
    """Write briefings to ``folder`` until they hold at least ``chunks`` chunks (deterministic)."""
    from .chunking import chunk_document
    from .config import Settings
    from .loaders import load

    settings = settings or Settings()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total, files, facts = 0, 0, []
    while total < chunks:
        text, fact = briefing(rng, files)
        sub = folder / f"{files // 1000:03d}"  # 1000 files a folder
        sub.mkdir(exist_ok=True)
        path = sub / f"briefing-{files:06d}.md"
        path.write_text(text, encoding="utf-8")
        total += len(chunk_document(load(path), settings))
        facts.append(fact)
        files += 1
    return {"files": files, "chunks": total, "facts": facts}


def questions(facts: list[dict], n: int, seed: int = 1) -> list[dict]:
    """Questions about the archive, each with a region + date filter that keeps its source."""
    rng = random.Random(seed)
    forms = [
        "How many {equip} did {c1} send near {place}?",
        "Who took part in the {event} involving {c1} and {c2}?",
        "When did {c1} hold the {event} with {c2}?",
        "What did the {official} of {c2} say about the {event}?",
        "Where were {equip} of {c1} reported in {year}?",
        "Why did {c2} summon the ambassador of {c1}?",
    ]
    out = []
    for _ in range(n):
        f = rng.choice(facts)
        q = rng.choice(forms).format(
            equip=rng.choice(EQUIPMENT), place=rng.choice(PLACES), official=rng.choice(OFFICIALS), **f
        )
        filters = {"region": [f["region"]], "date_from": f"{f['year'] - 1}-01-01", "date_to": f"{f['year'] + 1}-12-31"}
        out.append({"question": q, "filters": filters})
    return out


# -- measuring -------------------------------------------------------------------


def _pct(values: list[float]) -> dict:
    import numpy as np

    if not values:
        return {"p50": None, "p95": None}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 2), "p95": round(float(np.percentile(arr, 95)), 2)}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _disk_mb(folder: Path, skip: str | None = None) -> float:
    total = 0
    for root, dirs, files in os.walk(folder):
        if skip:
            dirs[:] = [d for d in dirs if d != skip]
        total += sum((Path(root) / f).stat().st_size for f in files if (Path(root) / f).is_file())
    return round(total / 2**20, 1)


def phase_ingest(archive: str, index_dir: str, backend: str, sample: int, seed: int) -> dict:
    """Child process: raw encoder on a sample of the chunks, then the full ingest."""
    import rag
    from rag.chunking import chunk_document
    from rag.index import Index
    from rag.loaders import load

    settings = rag.Settings.from_env(index_dir=index_dir, embed_backend=backend)
    files = sorted(Path(archive).rglob("*.md"))
    rng = random.Random(seed)
    texts: list[str] = []
    for path in rng.sample(files, len(files)):
        texts += [c.search_text for c in chunk_document(load(path), settings)]
        if len(texts) >= sample:
            break
    texts = texts[:sample]

    t0 = time.perf_counter()
    index = Index(settings)
    embedder = index.embedder
    embedder.encode(texts[:16], batch_size=settings.embed_batch)  # warm-up
    model_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    embedder.encode(texts, batch_size=settings.embed_batch)
    encoder_s = time.perf_counter() - t0
    encoder_rate = len(texts) / encoder_s

    bm25 = []
    refresh = index.lexical.refresh

    def timed_refresh() -> None:
        t = time.perf_counter()
        refresh()
        bm25.append(time.perf_counter() - t)

    index.lexical.refresh = timed_refresh
    from rag.ingest import ingest

    t0 = time.perf_counter()
    report = ingest([archive], index)
    ingest_s = time.perf_counter() - t0
    n = sum(f.chunks for f in report.files if f.status in ("added", "updated"))
    failed = [f.reason for f in report.files if f.status == "failed"]
    rate = n / ingest_s
    return {
        "files": len(files),
        "chunks": n,
        "failed": failed[:3],
        "encoder_sample": len(texts),
        "model_load_s": round(model_load_s, 2),
        "encoder_chunks_per_s": round(encoder_rate, 1),
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(rate, 1),
        "ingest_ratio": round(rate / encoder_rate, 3),
        "bm25_rebuild_s": round(sum(bm25), 2),
        "ingest_peak_rss_mb": _peak_rss_mb(),
    }


def phase_serve(index_dir: str, backend: str, qs: list[dict], asks: int) -> dict:
    """Child process: cold start, first answer, then latencies."""
    import psutil

    created = psutil.Process().create_time()
    import rag
    from rag.catalog import Filters
    from rag.retrieval import SEARCHES

    imported = time.time()
    settings = rag.Settings.from_env(index_dir=index_dir, embed_backend=backend)
    engine = rag.Engine(settings)
    index = engine.index
    index.vectors.count()  # opens Chroma (and loads the embedder)
    index.lexical.refresh()  # loads BM25
    loaded = time.time()
    engine.ask(qs[0]["question"])
    answered = time.time()

    def timeit(fn, items) -> list[float]:
        out = []
        for item in items:
            t = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - t) * 1000)
        return out

    k = settings.k
    for q in qs[:3]:  # warm-up
        for fn in SEARCHES.values():
            fn(index, q["question"], k, Filters.parse(q["filters"]))
    retrieval = {}
    for name, fn in SEARCHES.items():
        # fn=fn binds this loop's search (timeit calls the lambdas before the loop moves on anyway)
        retrieval[name] = _pct(timeit(lambda q, fn=fn: fn(index, q["question"], k, Filters()), qs))
        retrieval[f"{name}+filters"] = _pct(
            timeit(lambda q, fn=fn: fn(index, q["question"], k, Filters.parse(q["filters"])), qs)
        )
    mask = _pct(timeit(lambda q: index.catalog.chunk_ids(Filters.parse(q["filters"])), qs))
    ask_questions = qs[3 : 3 + asks]
    answers = []

    def ask(q):
        answers.append(engine.ask(q["question"]))

    ask_ms = timeit(ask, ask_questions)
    select = _pct([a.timings.get("select", 0.0) for a in answers])
    retrieve = _pct([a.timings.get("retrieve", 0.0) for a in answers])
    return {
        "import_s": round(imported - created, 2),  # interpreter start + imports (rag.bench imports rag)
        "index_load_s": round(loaded - imported, 2),
        "first_answer_s": round(answered - loaded, 2),
        "startup_to_first_answer_s": round(answered - created, 2),
        "retrieval_ms_by_method": retrieval,
        "filter_mask_ms": mask,
        "ask_ms": _pct(ask_ms),
        "ask_retrieve_ms": retrieve,
        "ask_select_ms": select,
        "refused": sum(a.refused for a in answers),
        "asks": len(answers),
        "serve_rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(phase: str, **kwargs) -> dict:
    """Run one phase in a fresh interpreter; its last stdout line is the JSON result."""
    code = f"import json,sys; from rag.bench import phase_{phase} as f; print(json.dumps(f(**json.loads(sys.argv[1]))))"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench {phase} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_size(
    chunks: int,
    workdir: Path,
    backend: str,
    *,
    seed: int = 0,
    queries: int = 40,
    asks: int = 30,
    sample: int = 4000,
    log=print,
) -> dict:
    archive, index_dir = workdir / f"archive-{chunks}", workdir / f"index-{chunks}"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    t0 = time.perf_counter()
    made = generate(archive, chunks, seed=seed)
    log(f"[{chunks}] generated {made['files']} files / {made['chunks']} chunks in {time.perf_counter() - t0:.0f}s")
    qs = questions(made["facts"], queries + asks + 3, seed=seed + 1)
    ing = _child(
        "ingest",
        archive=str(archive),
        index_dir=str(index_dir),
        backend=backend,
        sample=min(sample, made["chunks"]),
        seed=seed,
    )
    log(
        f"[{chunks}] ingest {ing['ingest_chunks_per_s']}/s vs encoder {ing['encoder_chunks_per_s']}/s "
        f"(ratio {ing['ingest_ratio']}) in {ing['ingest_s']}s"
    )
    srv = _child("serve", index_dir=str(index_dir), backend=backend, qs=qs[: max(queries, asks + 3)], asks=asks)
    log(
        f"[{chunks}] hybrid+filters p50 {srv['retrieval_ms_by_method']['hybrid+filters']['p50']} ms, "
        f"ask p50 {srv['ask_ms']['p50']} ms, start-up {srv['startup_to_first_answer_s']} s, "
        f"peak RSS {srv['peak_rss_mb']} MB"
    )
    result = {
        "chunks": ing["chunks"],
        "files": made["files"],
        "backend": backend,
        "encoder_chunks_per_s": ing["encoder_chunks_per_s"],
        "ingest_chunks_per_s": ing["ingest_chunks_per_s"],
        "ingest_ratio": ing["ingest_ratio"],
        "retrieval_ms": srv["retrieval_ms_by_method"]["hybrid+filters"],
        "ask_ms": srv["ask_ms"],
        "peak_rss_mb": srv["peak_rss_mb"],
        "index_load_s": srv["index_load_s"],
        "startup_to_first_answer_s": srv["startup_to_first_answer_s"],
        "disk_mb": _disk_mb(index_dir, skip="models"),
        "model_disk_mb": _disk_mb(index_dir / "models") if (index_dir / "models").exists() else 0.0,
        **{k: v for k, v in ing.items() if k not in ("chunks", "files")},
        **{
            k: v
            for k, v in srv.items()
            if k not in ("ask_ms", "peak_rss_mb", "index_load_s", "startup_to_first_answer_s")
        },
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    return result


TARGETS = {"hybrid_p50_ms": 30, "ask_p50_ms": 250, "startup_s": 10, "serve_rss_mb": 1536, "ingest_ratio": 0.85}


def table(results: list[dict]) -> str:
    head = (
        "| chunks | encoder/s | ingest/s | ratio | dense p50/p95 ms | BM25 p50/p95 ms | hybrid+filters p50/p95 ms "
        "| ask p50/p95 ms | start-up to 1st answer s | index load s | serve peak RSS MB | ingest peak RSS MB "
        "| disk MB |"
    )
    rows = [head, "|" + "|".join(["---:"] * 13) + "|"]
    for r in results:
        m = r["retrieval_ms_by_method"]
        pp = lambda d: f"{d['p50']} / {d['p95']}"  # noqa: E731
        rows.append(
            f"| {r['chunks']:,} | {r['encoder_chunks_per_s']} | {r['ingest_chunks_per_s']} | {r['ingest_ratio']} "
            f"| {pp(m['dense'])} | {pp(m['bm25'])} | {pp(m['hybrid+filters'])} | {pp(r['ask_ms'])} "
            f"| {r['startup_to_first_answer_s']} | {r['index_load_s']} | {r['peak_rss_mb']} "
            f"| {r['ingest_peak_rss_mb']} "
            f"| {r['disk_mb']} |"
        )
    return "\n".join(rows)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["chunks"] for r in results]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot(xs, [r["encoder_chunks_per_s"] for r in results], "o-", label="raw encoder")
    ax.plot(xs, [r["ingest_chunks_per_s"] for r in results], "s-", label="ingest (end to end)")
    ax.set_title("Throughput (chunks/s)")
    ax.set_ylim(bottom=0)
    ax = axes[1]
    for name in ("dense", "bm25", "hybrid", "hybrid+filters"):
        ax.plot(xs, [r["retrieval_ms_by_method"][name]["p50"] for r in results], "o-", label=f"{name} p50")
    ax.plot(xs, [r["ask_ms"]["p50"] for r in results], "k^-", label="ask p50")
    ax.axhline(TARGETS["hybrid_p50_ms"], color="grey", ls=":", lw=1)
    ax.axhline(TARGETS["ask_p50_ms"], color="black", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_title("Latency (ms; dotted: targets)")
    ax = axes[2]
    ax.plot(xs, [r["peak_rss_mb"] for r in results], "o-", label="serve peak RSS")
    ax.plot(xs, [r["ingest_peak_rss_mb"] for r in results], "s-", label="ingest peak RSS")
    ax.plot(xs, [r["disk_mb"] for r in results], "d-", label="index on disk")
    ax.axhline(TARGETS["serve_rss_mb"], color="grey", ls=":", lw=1)
    ax.set_title("Memory and disk (MB)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("chunks")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"rag bench ({results[0]['backend']}, {results[0]['cpus']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(
    sizes: list[int],
    out: Path,
    backend: str,
    *,
    seed: int = 0,
    queries: int = 40,
    asks: int = 30,
    sample: int = 4000,
    workdir: Path | None = None,
    keep: bool = False,
    log=print,
) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="rag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for n in sizes:
            results.append(bench_size(n, work, backend, seed=seed, queries=queries, asks=asks, sample=sample, log=log))
            (out / "bench.json").write_text(json.dumps(results, indent=2))  # partial results survive a crash
            if not keep:
                shutil.rmtree(work / f"archive-{n}", ignore_errors=True)
                shutil.rmtree(work / f"index-{n}", ignore_errors=True)
    finally:
        if not keep and workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    (out / "bench.md").write_text(table(results) + "\n")
    plot(results, out / "bench.png")
    return results


# -- the command -------------------------------------------------------------------

from typing import Annotated  # noqa: E402

import typer  # noqa: E402


def bench_command(
    chunks: Annotated[
        list[int] | None,
        typer.Option("--chunks", help="Archive size in chunks (repeatable; default 1000, 10000, 100000)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per size")] = False,
    out: Annotated[Path, typer.Option("--out", help="Folder for bench.json, bench.md and bench.png")] = Path(
        "bench-out"
    ),
    backend: Annotated[
        str | None, typer.Option("--backend", help="torch | onnx-int8 (default: RAG_EMBED_BACKEND)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic archive and questions")] = 0,
    queries: Annotated[int, typer.Option(help="Queries timed per retrieval method")] = 40,
    asks: Annotated[int, typer.Option(help="Questions timed through the full ask")] = 30,
    sample: Annotated[int, typer.Option(help="Chunks in the raw-encoder sample")] = 4000,
    workdir: Annotated[Path | None, typer.Option(help="Where archives and indexes go (default: a temp folder)")] = None,
    keep: Annotated[bool, typer.Option(help="Keep the archives and indexes")] = False,
) -> None:
    """Benchmark ingest, retrieval, ask, start-up and memory on a synthetic archive."""
    from .config import Settings

    sizes = chunks or [1000, 10000, 100000]
    backend = backend or Settings.from_env().embed_backend
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if as_json else (lambda m: print(m, flush=True))
    results = run(
        sizes, out, backend, seed=seed, queries=queries, asks=asks, sample=sample, workdir=workdir, keep=keep, log=log
    )
    if as_json:
        for r in results:
            print(json.dumps(r))
    else:
        print(table(results))
        print(f"\nwritten: {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.png'}")
