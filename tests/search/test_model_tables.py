"""The served MiniLM keeps its embedding tables int8: the very same vectors, from a pinned rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from companion.config import Settings
from companion.search import embeddings, model_tables
from companion.search.embeddings import MiniLMEmbedder, load_embedder, shipped_model_files
from companion.search.model_tables import GATHERED_MODEL_FILE, compact_model, saved_model

GOLDEN = Path(__file__).with_name("golden_minilm.json")


def test_the_served_model_embeds_exactly_as_the_shipped_one(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    golden = json.loads(GOLDEN.read_text())
    texts = [*golden["sentences"], "a longer passage about robots and sensors " * 30]

    served = load_embedder(Settings(data_dir=tmp_path))

    assert isinstance(served, MiniLMEmbedder) and served.name == minilm.name
    assert (tmp_path / "models" / GATHERED_MODEL_FILE).exists()
    assert np.array_equal(served.embed(texts), minilm.embed(texts))


def test_the_saved_rewrite_is_reused_and_a_damaged_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = shipped_model_files().model
    rewritten = compact_model(shipped, tmp_path)
    assert rewritten != shipped and (tmp_path / GATHERED_MODEL_FILE).read_bytes() == rewritten

    def no_rewrite(model: bytes) -> bytes:
        raise RuntimeError("the onnx package is broken")

    monkeypatch.setattr(model_tables, "gather_before_dequantising", no_rewrite)
    assert compact_model(shipped, tmp_path) == rewritten  # read back, not rewritten

    (tmp_path / GATHERED_MODEL_FILE).write_bytes(rewritten[:-10])
    assert compact_model(shipped, tmp_path) == shipped  # a damaged file is never loaded


def test_a_damaged_saved_rewrite_is_written_again(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / GATHERED_MODEL_FILE).write_bytes(b"not the rewritten model")

    served = load_embedder(Settings(data_dir=tmp_path))

    assert served is not None and saved_model(models) is not None


def test_a_saved_rewrite_is_served_without_reading_the_shipped_model_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compact_model(shipped_model_files().model, tmp_path / "models")
    # Were the shipped file read, it would be refused now; the rewrite is pinned by its own sha256.
    monkeypatch.setattr(embeddings, "MINILM_MODEL_SHA256", "0" * 64)

    served = load_embedder(Settings(data_dir=tmp_path))

    assert isinstance(served, MiniLMEmbedder) and served.name == embeddings.MINILM_NAME
