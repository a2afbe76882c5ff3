"""The embedders: MiniLM's vectors and integrity checks, the OpenAI client over a mocked transport."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from companion.config import Settings
from companion.search import embeddings
from companion.search.embeddings import EmbeddingUnavailable, MiniLMEmbedder, OpenAIEmbedder, load_embedder


def test_minilm_gives_normalised_384_dimensional_vectors(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["Robots need sensors.", "", "A much longer sentence " * 200])

    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)


def test_minilm_close_sentences_score_higher_than_unrelated_ones(minilm: MiniLMEmbedder) -> None:
    cat, kitten, taxes = minilm.embed(
        ["A cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly tax filings are due in April."]
    )

    assert cat @ kitten > 0.5
    assert cat @ kitten > cat @ taxes + 0.3


def test_minilm_batching_does_not_change_vectors(minilm: MiniLMEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about robots", "medium length text here"]

    together = minilm.embed(texts)
    one_by_one = np.vstack([minilm.embed([text]) for text in texts])

    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


GOLDEN = Path(__file__).with_name("golden_minilm.json")


def test_minilm_reproduces_the_golden_vectors(minilm: MiniLMEmbedder) -> None:
    # Reference vectors of the shipped model: a changed model, tokenizer or pooling cannot pass.
    golden = json.loads(GOLDEN.read_text())
    assert minilm.name == golden["model"]

    vectors = minilm.embed(golden["sentences"])

    np.testing.assert_allclose(vectors, np.array(golden["vectors"]), rtol=0, atol=golden["tolerance"])


def _model_dir(tmp_path: Path) -> Path:
    shipped = embeddings.shipped_model_files()
    (tmp_path / "model.onnx").write_bytes(shipped.model)
    (tmp_path / "tokenizer.json").write_bytes(shipped.tokenizer)
    return tmp_path


def test_a_model_dir_with_the_shipped_files_is_the_shipped_model(tmp_path: Path) -> None:
    settings = Settings(embedding_model_dir=_model_dir(tmp_path), _env_file=None)  # type: ignore[call-arg]
    golden = json.loads(GOLDEN.read_text())

    embedder = load_embedder(settings)

    assert embedder is not None and embedder.name == golden["model"] and embedder.dimension == 384
    np.testing.assert_allclose(embedder.embed(golden["sentences"][:1]), [golden["vectors"][0]], atol=1e-4)


def test_another_model_in_the_dir_gets_its_own_name(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    tokenizer["normalizer"]["lowercase"] = False  # a cased variant: different vectors, so another index
    (model_dir / "tokenizer.json").write_text(json.dumps(tokenizer))

    files = embeddings.model_files_from_dir(model_dir)
    embedder = MiniLMEmbedder(files=files)

    assert files.name.startswith("onnx-") and embedder.name == files.name
    assert embedder.dimension == 384
    assert not np.allclose(embedder.embed(["Robots"]), MiniLMEmbedder().embed(["Robots"]), atol=1e-4)


def test_a_model_dir_missing_a_file_is_reported(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    shutil.copy(model_dir / "tokenizer.json", tmp_path / "elsewhere.json")
    (model_dir / "tokenizer.json").unlink()

    with pytest.raises(EmbeddingUnavailable, match=r"needs tokenizer\.json"):
        embeddings.model_files_from_dir(model_dir)


def test_minilm_refuses_a_model_file_with_another_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "MINILM_MODEL_SHA256", "0" * 64)

    with pytest.raises(EmbeddingUnavailable, match="sha256"):
        MiniLMEmbedder()


def test_minilm_refuses_a_tokenizer_with_another_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "MINILM_TOKENIZER_SHA256", "0" * 64)

    with pytest.raises(EmbeddingUnavailable, match=r"tokenizer\.json"):
        MiniLMEmbedder()


def test_minilm_reports_a_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "MINILM_MODEL_PACKAGE", "no_such_model_package")

    with pytest.raises(EmbeddingUnavailable, match="not installed"):
        MiniLMEmbedder()


def _openai_client(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


def test_openai_embedder_batches_requests_and_normalises() -> None:
    requests: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        assert request.headers["Authorization"] == "Bearer sk-test"
        assert request.url == "https://llm.example/v1/embeddings"
        # Returned out of order, unnormalised: the client must sort by index and normalise.
        data = [{"index": i, "embedding": [float(i + 1)] * 1536} for i in range(len(body["input"]))]
        return httpx.Response(200, json={"data": list(reversed(data))})

    embedder = OpenAIEmbedder(
        api_key="sk-test",
        base_url="https://llm.example/v1/",
        batch_size=2,
        client=_openai_client(httpx.MockTransport(handler)),
    )
    vectors = embedder.embed(["a", "b", "c"])

    assert [body["input"] for body in requests] == [["a", "b"], ["c"]]
    assert requests[0]["model"] == "text-embedding-3-small"
    assert vectors.shape == (3, 1536)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(401, json={"error": {"message": "bad key"}}),
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 2.0]}]}),
    ],
)
def test_openai_embedder_failures_raise_embedding_unavailable(response: httpx.Response) -> None:
    embedder = OpenAIEmbedder(
        api_key="sk-test", client=_openai_client(httpx.MockTransport(lambda request: response))
    )

    with pytest.raises(EmbeddingUnavailable):
        embedder.embed(["a"])


def test_openai_embedder_network_error_raises_embedding_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("unreachable", request=request)

    embedder = OpenAIEmbedder(api_key="sk-test", client=_openai_client(httpx.MockTransport(handler)))

    with pytest.raises(EmbeddingUnavailable, match="unreachable"):
        embedder.embed(["a"])


def test_load_embedder_follows_the_provider_setting() -> None:
    assert load_embedder(Settings(embedding_provider="none")) is None
    assert isinstance(
        load_embedder(Settings(embedding_provider="openai", openai_api_key="sk")), OpenAIEmbedder
    )
    with pytest.raises(EmbeddingUnavailable, match="OPENAI_API_KEY"):
        load_embedder(Settings(embedding_provider="openai", openai_api_key=None))
