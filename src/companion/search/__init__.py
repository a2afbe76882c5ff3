"""Search: generic hybrid retrieval over passages (BM25 and embeddings, fused) and its course layer."""

from companion.search.embeddings import Embedder, EmbeddingUnavailable, load_embedder
from companion.search.engine import BuildReport, HybridIndex, Passage, SearchHit, SearchResult
from companion.search.fusion import FusionConfig, convex_combination, reciprocal_rank_fusion
from companion.search.vectors import VectorStore, VectorStoreUnavailable, collection_name

__all__ = [
    "BuildReport",
    "Embedder",
    "EmbeddingUnavailable",
    "FusionConfig",
    "HybridIndex",
    "Passage",
    "SearchHit",
    "SearchResult",
    "VectorStore",
    "VectorStoreUnavailable",
    "collection_name",
    "convex_combination",
    "load_embedder",
    "reciprocal_rank_fusion",
]
