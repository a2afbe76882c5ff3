"""The shipped MiniLM with its embedding tables kept int8 in memory: the same vectors, ~34 MiB less.

The shipped model stores its weights as int8 with a per-row scale, turned into float32 by `Cast` and
`Mul` nodes. ONNX Runtime folds those constants at load, so the word-embedding table (30,522 x 384)
alone takes 47 MB of float32. Looking rows up first (`Gather` on the int8 table and on its scale) and
only then converting them computes exactly the same numbers, while the table stays int8. The rewritten
model is written once to the data dir and checked against its pinned sha256 at every load, like the
shipped file. The `onnx` package that rewrites it (~12 MiB) is imported only when the file must be
written, and then by a short child process (`python -m companion.search.model_tables DIR`), so that
it never stays in a server.

Queries have a second derived model (`quantize_for_queries`): the same network with the weights of its
matrix products kept int8 and the products computed in int8 (ONNX Runtime's dynamic quantisation).
It embeds a query for about half the CPU, into nearly the same vector (cosine 0.99 with the exact one
on SciFact's claims), so passages stay embedded exactly and only queries use it (the setting
`embedding_query_precision`; its search quality is in the README's benchmarks).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# The rewrite of the pinned shipped model (embeddings.MINILM_MODEL_SHA256) by the pinned onnx version.
GATHERED_MODEL_SHA256 = "2dffa9fcf98eb722d123620c275d6b6cd42752c07ba58900e625bae2e79e20bf"
GATHERED_MODEL_FILE = f"minilm-int8-gathered-{GATHERED_MODEL_SHA256[:16]}.onnx"
# Its int8 derivative for queries, by the pinned onnx and onnxruntime versions.
QUERY_MODEL_SHA256 = "9647e20588468f4e7b77bae88f61de3f2683223702884d502d0731a9d303832e"
QUERY_MODEL_FILE = f"minilm-int8-queries-{QUERY_MODEL_SHA256[:16]}.onnx"
# Importing onnx and rewriting takes about a second; a very busy machine gets much longer.
REWRITE_TIMEOUT_SECONDS = 300.0


def gather_before_dequantising(model: bytes) -> bytes:
    """Rewrite each `Cast -> Mul(scale) -> Gather` table lookup as `Gather -> Cast -> Mul` (same numbers)."""
    import onnx
    from onnx import helper

    proto = onnx.load_from_string(model)
    graph = proto.graph
    producers = {output: node for node in graph.node for output in node.output}
    for node in list(graph.node):
        scaled = producers.get(node.input[0]) if node.op_type == "Gather" else None
        cast = producers.get(scaled.input[0]) if scaled is not None and scaled.op_type == "Mul" else None
        if scaled is None or cast is None or cast.op_type != "Cast":
            continue
        table, scale, ids, output = cast.input[0], scaled.input[1], node.input[1], node.output[0]
        rows = [
            helper.make_node("Gather", [table, ids], [f"{output}_q"], axis=0, name=f"{node.name}_q"),
            helper.make_node("Gather", [scale, ids], [f"{output}_scale"], axis=0, name=f"{node.name}_scale"),
            helper.make_node(
                "Cast", [f"{output}_q"], [f"{output}_f"], to=onnx.TensorProto.FLOAT, name=f"{node.name}_f"
            ),
            helper.make_node("Mul", [f"{output}_f", f"{output}_scale"], [output], name=f"{node.name}_mul"),
        ]
        position = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, row in enumerate(rows):
            graph.node.insert(position + offset, row)
        # The table's float32 conversion is read by nothing now: without it nothing is folded.
        consumed = {name for other in graph.node for name in other.input}
        for unused in (scaled, cast):
            if unused.output[0] not in consumed:
                graph.node.remove(unused)
    onnx.checker.check_model(proto)
    rewritten: bytes = proto.SerializeToString()
    return rewritten


def saved_model(
    cache_dir: Path, file: str = GATHERED_MODEL_FILE, sha256: str = GATHERED_MODEL_SHA256
) -> bytes | None:
    """A derived model saved in `cache_dir`, or None when it is missing or not exactly the pinned one."""
    try:
        saved = (Path(cache_dir) / file).read_bytes()
    except OSError:
        return None
    return saved if hashlib.sha256(saved).hexdigest() == sha256 else None


def compact_model(model: bytes, cache_dir: Path) -> bytes:
    """The rewritten model, read from `cache_dir` or written there once; `model` itself if that fails."""
    rewritten = _derived(
        cache_dir,
        GATHERED_MODEL_FILE,
        GATHERED_MODEL_SHA256,
        lambda: gather_before_dequantising(model),
        failure="embedding model kept as shipped, its tables could not be rewritten",
    )
    return model if rewritten is None else rewritten


def quantize_for_queries(model: bytes) -> bytes:
    """The gathered model with int8 matrix products: weights folded to float32, then quantised per column."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    proto = onnx.load_from_string(model)
    graph = proto.graph
    producers = {output: node for node in graph.node for output in node.output}
    constants = {initializer.name: initializer for initializer in graph.initializer}
    for node in list(graph.node):
        # A weight reaches its MatMul as Cast(int8 constant) -> Mul(scale constant): made one constant.
        scaled = producers.get(node.input[1]) if node.op_type == "MatMul" else None
        cast = producers.get(scaled.input[0]) if scaled is not None and scaled.op_type == "Mul" else None
        if scaled is None or cast is None or cast.op_type != "Cast" or cast.input[0] not in constants:
            continue
        if scaled.input[1] not in constants:
            continue
        weight = numpy_helper.to_array(constants[cast.input[0]]).astype(np.float32)
        weight = weight * numpy_helper.to_array(constants[scaled.input[1]])
        graph.initializer.append(numpy_helper.from_array(weight.astype(np.float32), scaled.output[0]))
        graph.node.remove(scaled)
        graph.node.remove(cast)
        consumed = {name for other in graph.node for name in other.input}
        for name in (cast.input[0], scaled.input[1]):
            if name not in consumed:
                graph.initializer.remove(constants[name])
    # quantize_dynamic reads and writes files only.
    with tempfile.TemporaryDirectory(prefix="companion-model-") as work:
        folded, quantised = Path(work) / "folded.onnx", Path(work) / "quantised.onnx"
        folded.write_bytes(proto.SerializeToString())
        quantize_dynamic(
            folded, quantised, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
        return quantised.read_bytes()


def query_model(gathered: bytes, cache_dir: Path) -> bytes | None:
    """The int8 query model, read from `cache_dir` or derived from the gathered model; None if that fails."""
    return _derived(
        cache_dir,
        QUERY_MODEL_FILE,
        QUERY_MODEL_SHA256,
        lambda: quantize_for_queries(gathered),
        failure="queries embedded by the exact model, the int8 one could not be made",
    )


def _derived(
    cache_dir: Path, file: str, sha256: str, derive: Callable[[], bytes], *, failure: str
) -> bytes | None:
    """A derived model: read from `cache_dir`, else derived, checked against its pin and saved there."""
    saved = saved_model(cache_dir, file, sha256)
    if saved is not None:
        return saved
    try:
        derived = derive()
    except Exception as error:  # onnx and its quantiser raise their own untyped errors
        logger.warning("%s: %s", failure, error)
        return None
    actual = hashlib.sha256(derived).hexdigest()
    if actual != sha256:
        logger.warning("%s: the result has sha256 %s, expected %s", failure, actual, sha256)
        return None
    _save(Path(cache_dir) / file, derived)
    return derived


def _save(path: Path, model: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        staging.write_bytes(model)
        os.replace(staging, path)  # whole or absent, even with several processes starting at once
    except OSError as error:
        logger.warning("the derived embedding model could not be saved in %s: %s", path.parent, error)


def compact_model_in_child(cache_dir: Path, *, with_queries: bool = False) -> bytes | None:
    """The rewritten model, written to `cache_dir` by a child process when missing; None if that fails.

    `with_queries` has the child derive the query model too (read it with `saved_model`).
    """
    saved = saved_model(cache_dir)
    if saved is not None and (
        not with_queries or saved_model(cache_dir, QUERY_MODEL_FILE, QUERY_MODEL_SHA256) is not None
    ):
        return saved
    command = [sys.executable, "-m", "companion.search.model_tables", str(cache_dir)]
    command += ["--queries"] if with_queries else []
    try:
        # Not the server's stdout, which may carry a protocol (MCP over stdio).
        subprocess.run(command, check=True, timeout=REWRITE_TIMEOUT_SECONDS, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("the process deriving the embedding models failed: %s", error)
    return saved_model(cache_dir)


def main() -> None:
    """Write the rewritten model (and with `--queries` the query model) into the folder given first."""
    # Imported here: this module is imported by the embeddings module, which the child needs for the
    # shipped model (read and checked against its pinned sha256, so a damaged install is refused).
    from companion.search.embeddings import shipped_model_files

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The quantiser suggests an optional pre-processing step (not taken: the result is pinned as it is).
    logging.getLogger().addFilter(lambda record: "pre-processing" not in record.getMessage())
    cache_dir, with_queries = Path(sys.argv[1]), "--queries" in sys.argv[2:]
    gathered = compact_model(shipped_model_files().model, cache_dir)
    if saved_model(cache_dir) is None:
        raise SystemExit(1)  # why was logged
    if with_queries and query_model(gathered, cache_dir) is None:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
