"""The zero-LLM rule: no module of the core imports an LLM client library.

The core is everything under src/companion except the `premium` and `llm` packages, where the
user-initiated, cost-tracked hybrid features live. Imports are read from the syntax tree, so a
mention in a string or comment does not count, and an import inside a function does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "companion"
HYBRID_PACKAGES = {"premium", "llm"}
LLM_CLIENTS = {
    "openai",
    "anthropic",
    "google.generativeai",
    "google.genai",
    "vertexai",
    "cohere",
    "mistralai",
    "litellm",
    "groq",
    "together",
    "replicate",
    "ollama",
    "llama_index",
    "llama_cpp",
    "huggingface_hub.InferenceClient",
    "huggingface_hub.AsyncInferenceClient",
    "dspy",
    "instructor",
    "pydantic_ai",
    "genai_prices",
}
LLM_CLIENT_PREFIXES = ("langchain",)  # langchain, langchain_core, langchain_openai, ...


def is_llm_client(module: str) -> bool:
    """Whether an imported module is, or is inside, an LLM client library."""
    parts = module.split(".")
    prefixes = {".".join(parts[: length + 1]) for length in range(len(parts))}
    return bool(prefixes & LLM_CLIENTS) or parts[0].startswith(LLM_CLIENT_PREFIXES)


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute module an import statement (or importlib call with a literal) brings in."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("__import__", "import_module"))
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def core_modules() -> list[Path]:
    """Every Python file of the core."""
    return sorted(
        path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] not in HYBRID_PACKAGES
    )


def test_the_core_imports_no_llm_client() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for path in core_modules()
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if is_llm_client(module)
    ]
    assert offences == []


# The deterministic domains (everything but the composition root, the adapters that also expose the
# premium features, and the hybrid packages) never reach the LLM layer, even through our own modules.
# premium.service (cache invalidation on a background change) and the table models make no LLM call.
# web/premium.py is the web's adapter for the premium chapter features, as mcp/ is for the assistants.
ADAPTERS = {"app.py", "mcp", "cli.py", "web/premium.py"}
HYBRID_MODULES_ALLOWED = {"companion.premium.service", "companion.premium.models", "companion.llm.models"}


def test_the_deterministic_domains_never_reach_the_llm_layer() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
        for path in core_modules()
        if not {path.relative_to(PACKAGE).parts[0], path.relative_to(PACKAGE).as_posix()} & ADAPTERS
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        # `from companion.premium import service` is checked as companion.premium.service.
        if module.split(".")[:2] in (["companion", "llm"], ["companion", "premium"])
        and module not in ("companion.llm", "companion.premium")
        and not any(
            module == allowed or module.startswith(allowed + ".") for allowed in HYBRID_MODULES_ALLOWED
        )
    ]
    assert offences == []


def test_the_scan_covers_the_core() -> None:
    scanned = {path.relative_to(PACKAGE).parts[0] for path in core_modules()}
    assert {"content", "access", "accounts", "mcp", "app.py"} <= scanned
    assert not scanned & HYBRID_PACKAGES


@pytest.mark.parametrize(
    "source",
    [
        "import openai",
        "from anthropic import Anthropic",
        "import google.generativeai as genai",
        "from google import genai",
        "from langchain_openai import ChatOpenAI",
        "from huggingface_hub import InferenceClient",
        "def f():\n    import litellm",
        "import importlib\nimportlib.import_module('mistralai')",
        "from pydantic_ai import Agent",
        "from genai_prices import calc_price",
    ],
)
def test_the_scan_catches_llm_imports(source: str) -> None:
    assert any(is_llm_client(module) for _, module in imported_modules(ast.parse(source)))


@pytest.mark.parametrize(
    "source",
    [
        "import httpx",
        "from companion.llm import models",
        "x = 'import openai'",
        "from . import openai_helpers",
        "from huggingface_hub import hf_hub_download",
    ],
)
def test_the_scan_ignores_other_imports(source: str) -> None:
    assert not any(is_llm_client(module) for _, module in imported_modules(ast.parse(source)))
