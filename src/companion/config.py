"""One settings object for the whole service, read once from `COMPANION_*` variables and `.env`."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's shipped courses; used when no content source is configured.
SHIPPED_COURSES_DIR = Path(__file__).resolve().parents[2] / "courses"


class Settings(BaseSettings):
    """Every tunable of Course Companion; the defaults run everything embedded under `./data/`."""

    model_config = SettingsConfigDict(env_prefix="COMPANION_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")

    # Relational data: SQLite under data_dir unless a URL is given.
    database_url: str | None = None
    database_echo: bool = False

    # Cache: Redis when a URL is given, an in-process TTL cache otherwise.
    redis_url: str | None = None

    # Content: where course packs are authored and where published versions live.
    content_source: Path = SHIPPED_COURSES_DIR
    content_store: Literal["local", "s3"] = "local"
    content_store_dir: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "companion"
    s3_endpoint_url: str | None = None
    s3_region: str = "auto"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # How often each process looks for a newly published content version.
    content_refresh_seconds: float = 30.0

    # Search: embedded Qdrant on disk unless a server URL is given.
    qdrant_path: Path | None = None
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    embedding_provider: Literal["minilm", "openai", "none"] = "minilm"
    # A folder with model.onnx and tokenizer.json to use instead of the shipped MiniLM files
    # (identical files are recognised by hash; another model gets an index of its own).
    embedding_model_dir: Path | None = None
    # How the shipped MiniLM embeds queries: "int8" arithmetic (about half the CPU, nearly the same vector:
    # see the README's benchmarks for search quality) or "float32", exactly as passages are embedded.
    embedding_query_precision: Literal["int8", "float32"] = "int8"
    # Inference threads per MiniLM call; unset = up to 4. On a busy 2-core host, 1 steadies query latency.
    embedding_threads: int | None = None
    openai_api_key: str | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    # Hybrid fusion: "convex" (min-max normalised scores, weighted) or "rrf" (reciprocal rank fusion).
    # Convex is the default: SciFact nDCG@10 0.728 against 0.715 for RRF (bench/search_quality.py).
    search_fusion: Literal["convex", "rrf"] = "convex"
    rrf_k: int = 60
    rrf_lexical_weight: float = 1.0
    rrf_semantic_weight: float = 1.0

    # Tutor chat: questions per learner per minute, and when a passage counts as answering a question
    # (cosine similarity of MiniLM embeddings; share of the question's terms, weighted by rarity).
    tutor_messages_per_minute: int = 20
    tutor_min_semantic_score: float = 0.30
    tutor_min_term_coverage: float = 0.6

    # Premium (LLM) features only; the deterministic core never calls a model. Any OpenAI-compatible
    # server by base URL (Ollama, vLLM, llama.cpp), or Anthropic / OpenAI by API key (the first configured
    # of those three wins). `llm_feature_models` overrides the model per feature, e.g.
    # {"translation": "claude-haiku-4-5", "synthesis": "anthropic:claude-sonnet-4-5"}.
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    anthropic_api_key: str | None = None
    llm_feature_models: dict[str, str] = Field(default_factory=dict)
    # Seconds one model request may take (covering the SDK's own retries), and how many times the
    # provider SDK retries a transient failure (429, 5xx, connection), with exponential backoff.
    llm_timeout_seconds: float = 60.0
    llm_max_retries: int = 2
    # The longest answer a model may write (a chapter translated into Urdu takes about 10k tokens).
    llm_max_output_tokens: int = 16_000
    # USD per million input and output tokens per model name; overrides the genai-prices table.
    llm_prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    # Monthly LLM spend per learner by tier (USD); a tier missing here inherits the tier below it.
    llm_monthly_budget_usd: dict[str, float] = Field(default_factory=lambda: {"pro": 2.0, "team": 4.0})

    # Accounts and tokens.
    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    login_attempts_per_minute: int = 5
    # Failed sign-ins from one address across every email, sign-ups and token refreshes per address.
    login_failures_per_address_per_minute: int = 20
    signups_per_address_per_hour: int = 20
    refreshes_per_address_per_minute: int = 60

    # HTTP.
    cors_origins: list[str] = Field(default_factory=list)
    # Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (e.g.
    # ["10.0.0.2"], or ["*"] behind a platform load balancer). None by default: forwarded headers
    # from anyone else are ignored, so a client cannot choose the address its rate limits count.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Request limits: larger bodies get 413, longer URLs 414, larger header sets 431.
    max_request_bytes: int = 1_048_576
    max_url_bytes: int = 8192
    max_header_bytes: int = 16384
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    public_base_url: str = "http://127.0.0.1:8000"
    record_client_ip: bool = False
    # Run the retention jobs inside the serving process: each runs once per period across all
    # processes (PostgreSQL advisory lock plus the job_runs record).
    run_jobs: bool = True

    # Payments (Stripe). Without a secret key, checkout answers 503 and says payments are off.
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_price_premium: str | None = None
    stripe_price_pro: str | None = None
    stripe_price_team: str | None = None
    # Another Stripe API address (stripe-mock, a test double); Stripe's own when unset.
    stripe_api_base: str | None = None
    # Team invitations stay valid this long.
    team_invitation_days: int = 14

    # GET /metrics: with a token set, callers must send it as a bearer token. Without one the
    # endpoint is open in development and test, and refused in production.
    metrics_token: str | None = None

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.environment == "production" and not self.jwt_secret:
            raise ValueError("COMPANION_JWT_SECRET must be set when COMPANION_ENVIRONMENT=production")
        if self.jwt_secret is not None and len(self.jwt_secret) < 32:
            raise ValueError("COMPANION_JWT_SECRET must be at least 32 characters")
        return self

    def stripe_price(self, tier: str) -> str | None:
        """The configured Stripe price id for a paid tier."""
        prices = {
            "premium": self.stripe_price_premium,
            "pro": self.stripe_price_pro,
            "team": self.stripe_price_team,
        }
        return prices.get(tier)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'companion.db').resolve()}"

    @property
    def resolved_content_store_dir(self) -> Path:
        """Where published content versions live on local disk."""
        return self.content_store_dir or self.data_dir / "content"

    @property
    def resolved_qdrant_path(self) -> Path:
        """Where the embedded Qdrant keeps its files."""
        return self.qdrant_path or self.data_dir / "qdrant"

    @property
    def search_index_dir(self) -> Path:
        """Where lexical indexes and index manifests are saved."""
        return self.data_dir / "search"

    def signing_secret(self) -> str:
        """The JWT secret: explicit, or generated once and kept under the data dir for local use."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt_secret"
        known = _GENERATED_SECRETS.get(path)
        if known is not None:  # every signed-in request asks: read the file once per process
            return known
        if path.exists():
            secret = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            secret = secrets.token_urlsafe(48)
            path.write_text(secret)
            path.chmod(0o600)
        _GENERATED_SECRETS[path] = secret
        return secret


# The secrets kept under data dirs, as read (or written) by this process: data dir's file -> secret.
_GENERATED_SECRETS: dict[Path, str] = {}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
