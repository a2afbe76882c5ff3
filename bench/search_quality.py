"""SciFact retrieval benchmark run through the search engine: quality, build throughput, latency, memory.

    .venv/bin/python bench/search_quality.py [--data DIR] [--sweep]

Indexes the 5,183 SciFact abstracts (title + " " + text) with the product's HybridIndex (BM25, MiniLM
embeddings in embedded Qdrant, the configured fusion), runs the 300 test claims, and prints nDCG@10,
Recall@100 and MRR@10 for BM25 alone, embeddings alone, hybrid and hybrid with the other fusion method,
then embeddings and hybrid again with queries embedded by the int8 query model (the `*_int8q` rows: the
product's default, `embedding_query_precision`), the build throughput, the CPU of a query's embedding and
the p50/p95 latency of a hybrid search with each query model, and the peak RSS. The last line is one
JSON object. Passage embeddings are cached under data/bench/ keyed by the
model's sha256, so only the first run pays for embedding the corpus; the live build rate is measured on
an evenly spaced sample every time (--build-sample), against the bare model embedding the same texts in
one call (the same MiniLMEmbedder), in the same run. --sweep adds a grid over fusion methods, weights,
RRF constants and depths.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from companion.config import Settings
from companion.search.embeddings import MINILM_MODEL_SHA256, MiniLMEmbedder, load_query_embedder
from companion.search.engine import HybridIndex, Passage, ProgressCallback
from companion.search.fusion import FusionConfig, fuse
from companion.search.vectors import VectorStore

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "scifact"
DEFAULT_CACHE = REPO / "data" / "bench"
# Deep enough for Recall@100 of every mode and for trying other candidate depths offline (--sweep).
DEPTH = 1000

Run = dict[str, list[str]]
ScoredRun = dict[str, list[tuple[str, float]]]
Qrels = dict[str, dict[str, int]]


class CachedEmbedder:
    """The MiniLM embedder behind a disk cache keyed by text sha256, so reruns skip the corpus."""

    def __init__(self, inner: MiniLMEmbedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.path = path
        self.cache: dict[str, np.ndarray] = {}
        self.misses = 0
        if path.exists():
            with np.load(path) as stored:
                self.cache = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`, computing only those not cached yet."""
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        missing = [index for index, key in enumerate(keys) if key not in self.cache]
        if missing:
            self.misses += len(missing)
            computed = self.inner.embed([texts[index] for index in missing])
            for index, vector in zip(missing, computed, strict=True):
                self.cache[keys[index]] = vector
        return np.vstack([self.cache[key] for key in keys])

    def save(self) -> None:
        """Write the cache to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.cache)
        with self.path.open("wb") as file:
            np.savez(file, keys=np.array(keys), vectors=np.vstack([self.cache[key] for key in keys]))


def cpu_seconds() -> float:
    """CPU seconds this process has used (every thread)."""
    times = os.times()
    return times.user + times.system


def load_scifact(data: Path) -> tuple[list[Passage], dict[str, str], Qrels]:
    """Corpus as passages, test queries by id, and relevance judgments."""
    with gzip.open(data / "corpus.jsonl.gz", "rt", encoding="utf-8") as file:
        documents = [json.loads(line) for line in file]
    passages = [
        Passage(id=str(document["_id"]), text=f"{document['title']} {document['text']}")
        for document in documents
    ]
    qrels: Qrels = {}
    with (data / "qrels" / "test.tsv").open(encoding="utf-8") as file:
        next(file)  # header
        for line in file:
            query_id, corpus_id, score = line.rstrip("\n").split("\t")
            qrels.setdefault(query_id, {})[corpus_id] = int(score)
    with (data / "queries.jsonl").open(encoding="utf-8") as file:
        queries = {str(row["_id"]): row["text"] for row in map(json.loads, file) if str(row["_id"]) in qrels}
    return passages, queries, qrels


def ndcg_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with graded gains and a log2 discount (as trec_eval / BEIR)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    positives = {doc for doc, gain in relevant.items() if gain > 0}
    return len(positives.intersection(ranking[:k])) / len(positives) if positives else 0.0


def mrr_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the judged queries."""
    queries = list(qrels)
    return {
        "ndcg@10": statistics.fmean(ndcg_at(run.get(q, []), qrels[q], 10) for q in queries),
        "recall@100": statistics.fmean(recall_at(run.get(q, []), qrels[q], 100) for q in queries),
        "mrr@10": statistics.fmean(mrr_at(run.get(q, []), qrels[q], 10) for q in queries),
    }


def ranking(scored: list[tuple[str, float]]) -> list[str]:
    """The ids of a scored list, best first."""
    return [doc for doc, _ in scored]


def fuse_run(lexical: ScoredRun, semantic: ScoredRun, fusion: FusionConfig, candidates: int) -> Run:
    """Hybrid rankings recomputed offline from the two retrievers' results, with the engine's fusion."""
    weights = [fusion.lexical_weight, fusion.semantic_weight]
    return {
        query_id: ranking(
            fuse([lexical[query_id][:candidates], semantic[query_id][:candidates]], weights, fusion)
        )
        for query_id in lexical
    }


def sweep(lexical: ScoredRun, semantic: ScoredRun, qrels: Qrels) -> list[dict[str, Any]]:
    """Hybrid quality over a grid of fusion methods, RRF constants, semantic weights and candidate depths."""
    configs = [FusionConfig(method="convex", semantic_weight=weight) for weight in (0.6, 0.8, 1.0, 1.2, 1.5)]
    configs += [
        FusionConfig(method="rrf", k=k, semantic_weight=weight)
        for k in (1, 5, 10, 20, 30, 60, 100)
        for weight in (0.6, 0.8, 1.0, 1.2, 1.5)
    ]
    rows: list[dict[str, Any]] = []
    for fusion in configs:
        for candidates in (20, 50, 100, 200, 1000):
            scores = evaluate(fuse_run(lexical, semantic, fusion, candidates), qrels)
            rows.append({**describe(fusion, candidates), **scores})
    return rows


def describe(fusion: FusionConfig, candidates: int) -> dict[str, Any]:
    """The fusion settings as printed and reported."""
    return {
        "method": fusion.method,
        "rrf_k": fusion.k if fusion.method == "rrf" else None,
        "lexical_weight": fusion.lexical_weight,
        "semantic_weight": fusion.semantic_weight,
        "candidates": candidates,
    }


def progress(label: str) -> tuple[float, ProgressCallback]:
    """A progress printer for `on_progress(done, total)`, on stderr."""
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed and done else 0.0
        print(f"\r{label} {done}/{total} ({rate:.1f}/s)", end="", file=sys.stderr, flush=True)
        if done == total:
            print(file=sys.stderr)

    return started, report


def main() -> None:
    """Run the benchmark and print the table and the JSON line."""
    settings = Settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SciFact directory (BEIR format)")
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE, help="where passage embeddings are cached"
    )
    default = FusionConfig.from_settings(settings)
    parser.add_argument("--fusion", choices=["convex", "rrf"], default=default.method)
    parser.add_argument("--rrf-k", type=int, default=default.k)
    parser.add_argument("--lexical-weight", type=float, default=default.lexical_weight)
    parser.add_argument("--semantic-weight", type=float, default=default.semantic_weight)
    parser.add_argument("--candidates", type=int, default=100, help="per-retriever candidates fused")
    parser.add_argument(
        "--build-sample", type=int, default=512, help="passages built live and embedded by the bare model"
    )
    parser.add_argument(
        "--sweep", action="store_true", help="also print quality over a grid of fusion settings"
    )
    args = parser.parse_args()
    fusion = FusionConfig(
        method=args.fusion,
        k=args.rrf_k,
        lexical_weight=args.lexical_weight,
        semantic_weight=args.semantic_weight,
    )
    other = FusionConfig(
        method="rrf" if fusion.method == "convex" else "convex",
        k=fusion.k,
        lexical_weight=fusion.lexical_weight,
        semantic_weight=fusion.semantic_weight,
    )

    passages, queries, qrels = load_scifact(args.data)
    embedder = CachedEmbedder(
        MiniLMEmbedder(), args.cache_dir / f"scifact-{MiniLMEmbedder.name}-{MINILM_MODEL_SHA256[:16]}.npz"
    )

    with tempfile.TemporaryDirectory(prefix="search-bench-") as work:
        vectors = VectorStore.open(Settings(qdrant_path=Path(work) / "qdrant", qdrant_url=None))
        index = HybridIndex(
            collection="scifact",
            index_dir=Path(work) / "index",
            store=vectors,
            embedder=embedder,
            fusion=fusion,
        )
        started, report = progress("embedding passages")
        build = index.build(passages, on_progress=report)
        build_seconds = time.perf_counter() - started
        built_from_cache = embedder.misses == 0
        embedder.save()
        # Queries are embedded live: their cost belongs in the latency figures.
        index.embedder = embedder.inner
        if build.mode != "hybrid":
            raise SystemExit(f"build fell back to lexical: {build.degraded_reason}")

        # A live build of an evenly spaced sample (no cache) against the bare model on the same texts.
        sample = passages[:: max(1, len(passages) // args.build_sample)][: args.build_sample]
        live = HybridIndex(
            collection="scifact-live", index_dir=Path(work) / "live", store=vectors, embedder=embedder.inner
        )
        marks: list[tuple[float, float]] = []
        live.build_lexical(sample)
        live.build_vectors(
            vectors, on_progress=lambda done, total: marks.append((time.perf_counter(), cpu_seconds()))
        )
        build_rate = len(sample) / (time.perf_counter() - marks[0][0])
        build_cpu_ms = (cpu_seconds() - marks[0][1]) / len(sample) * 1000
        embed_started, embed_cpu = time.perf_counter(), cpu_seconds()
        embedder.inner.embed([passage.text for passage in sample])
        embed_rate = len(sample) / (time.perf_counter() - embed_started)
        embed_cpu_ms = (cpu_seconds() - embed_cpu) / len(sample) * 1000

        lexical: ScoredRun = {}
        semantic: ScoredRun = {}
        hybrid: Run = {}
        for query_id, text in queries.items():
            lexical[query_id] = index.search_lexical(text, limit=DEPTH)
            semantic[query_id] = index.search_semantic(text, limit=DEPTH)
            result = index.search(text, limit=100, candidates=args.candidates)
            hybrid[query_id] = [hit.id for hit in result.hits]

        # The same index searched with the int8 query model (the product's default for queries).
        query_model = load_query_embedder(Settings(data_dir=args.cache_dir, _env_file=None))  # type: ignore[call-arg]
        if query_model is None:
            raise SystemExit("the int8 query model could not be made (see the warning above)")
        semantic_int8: ScoredRun = {}
        hybrid_int8: Run = {}
        index.embedder = query_model
        for query_id, text in queries.items():
            semantic_int8[query_id] = index.search_semantic(text, limit=DEPTH)
            result = index.search(text, limit=100, candidates=args.candidates)
            hybrid_int8[query_id] = [hit.id for hit in result.hits]

        query_cpu_ms: dict[str, float] = {}
        latencies: dict[str, list[float]] = {}
        for label, query_embedder in (("float32", embedder.inner), ("int8", query_model)):
            index.embedder = query_embedder
            started_cpu = cpu_seconds()
            for text in queries.values():
                query_embedder.embed([text])
            query_cpu_ms[label] = (cpu_seconds() - started_cpu) / len(queries) * 1000
            latencies[label] = []
            for text in queries.values():
                search_started = time.perf_counter()
                index.search(text, limit=10, candidates=args.candidates)
                latencies[label].append((time.perf_counter() - search_started) * 1000)
        vectors.close()

    modes = {
        "bm25": evaluate({query_id: ranking(scored) for query_id, scored in lexical.items()}, qrels),
        "embeddings": evaluate({query_id: ranking(scored) for query_id, scored in semantic.items()}, qrels),
        "hybrid": evaluate(hybrid, qrels),
        "embeddings_int8q": evaluate(
            {query_id: ranking(scored) for query_id, scored in semantic_int8.items()}, qrels
        ),
        "hybrid_int8q": evaluate(hybrid_int8, qrels),
        # The other fusion method on the same retrieval results, for comparison.
        f"hybrid_{other.method}": evaluate(fuse_run(lexical, semantic, other, args.candidates), qrels),
    }
    cuts = {label: statistics.quantiles(values, n=100) for label, values in latencies.items()}
    results: dict[str, Any] = {
        "benchmark": "scifact",
        "documents": len(passages),
        "queries": len(queries),
        "fusion": describe(fusion, args.candidates),
        **{
            f"{mode}_{metric}": round(value, 4)
            for mode, scores in modes.items()
            for metric, value in scores.items()
        },
        "build_seconds": round(build_seconds, 1),
        "build_passages_per_s": round(len(passages) / build_seconds, 1),
        "build_embeddings_cached": built_from_cache,
        "live_build_sample": len(sample),
        "live_build_passages_per_s": round(build_rate, 1),
        "embed_passages_per_s": round(embed_rate, 1),
        "live_build_vs_bare": round(build_rate / embed_rate, 2),
        # CPU per passage does not depend on what else the machine runs meanwhile (wall-clock rates do).
        "live_build_cpu_ms_per_passage": round(build_cpu_ms, 1),
        "embed_cpu_ms_per_passage": round(embed_cpu_ms, 1),
        **{
            f"{label}_queries_{name}": round(value, 1)
            for label in ("float32", "int8")
            for name, value in (
                ("embed_cpu_ms", query_cpu_ms[label]),
                ("search_p50_ms", cuts[label][49]),
                ("search_p95_ms", cuts[label][94]),
            )
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }

    print(f"SciFact: {len(passages)} passages, {len(queries)} queries; fusion {results['fusion']}")
    print(f"{'mode':<16}{'nDCG@10':>10}{'Recall@100':>12}{'MRR@10':>10}")
    for mode, scores in modes.items():
        print(f"{mode:<16}{scores['ndcg@10']:>10.4f}{scores['recall@100']:>12.4f}{scores['mrr@10']:>10.4f}")
    cached = " (embeddings from cache)" if results["build_embeddings_cached"] else ""
    print(f"build: {results['build_seconds']} s, {results['build_passages_per_s']} passages/s{cached}")
    print(
        f"live build of {len(sample)} passages: {results['live_build_passages_per_s']}/s vs the bare model "
        f"{results['embed_passages_per_s']}/s = {results['live_build_vs_bare']}x (target >= 0.8x)"
    )
    print(
        f"CPU per passage: live build {results['live_build_cpu_ms_per_passage']} ms, bare model "
        f"{results['embed_cpu_ms_per_passage']} ms"
    )
    for label in ("float32", "int8"):
        print(
            f"{label} queries: embedding CPU {results[f'{label}_queries_embed_cpu_ms']} ms per query; hybrid "
            f"search p50 {results[f'{label}_queries_search_p50_ms']} ms, "
            f"p95 {results[f'{label}_queries_search_p95_ms']} ms"
        )
    print("(rows *_int8q: the same index searched with the int8 query model, the default for queries)")
    print(f"peak RSS: {results['peak_rss_mb']} MB")
    if args.sweep:
        rows = sorted(sweep(lexical, semantic, qrels), key=lambda row: row["ndcg@10"], reverse=True)
        print("fusion sweep (lexical weight 1.0), best first:")
        print(f"{'method':>7}{'k':>5}{'sem.w':>7}{'cand':>6}{'nDCG@10':>10}{'R@100':>8}{'MRR@10':>8}")
        for row in rows[:30]:
            print(
                f"{row['method']:>7}{row['rrf_k'] or '-':>5}{row['semantic_weight']:>7}{row['candidates']:>6}"
                f"{row['ndcg@10']:>10.4f}{row['recall@100']:>8.4f}{row['mrr@10']:>8.4f}"
            )
        results["sweep"] = rows
    print(json.dumps(results))


if __name__ == "__main__":
    main()
