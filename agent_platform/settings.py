"""Every setting of the platform, read once from the environment (and `.env`).

Why one object: a wrong value must fail at start-up with one line naming the setting,
and nothing else in the code may read `os.environ` for configuration.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A setting has a value we cannot start with; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where embedded state lives.")
    database_url: str = Field(default="", description="Empty: SQLite file under DATA_DIR.")
    db_pool_size: int = Field(
        default=10, ge=1, le=200, description="database connections each process keeps open"
    )
    db_pool_overflow: int = Field(
        default=10, ge=0, le=200, description="more it may open for a burst (closed after)"
    )
    redis_url: str = Field(default="", description="Empty: start the bundled Redis.")
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"
    base_url: str = Field(default="", description="Public URL; empty: http://localhost:PORT.")

    secret_store: Literal["local", "vault"] = "local"
    secret_key_file: Path | None = Field(
        default=None, description="Key of the local secret store; empty: DATA_DIR/secret.key."
    )
    vault_url: str = "http://127.0.0.1:8200"
    vault_token: str = ""
    vault_mount: str = Field(default="secret", description="Mount point of a KV v2 engine.")
    vault_path_prefix: str = Field(
        default="agent-platform", description="Secrets live at VAULT_MOUNT/<prefix>/<ref>."
    )
    vault_role_id: str = Field(default="", description="AppRole login (with VAULT_SECRET_ID).")
    vault_secret_id: str = ""
    vault_approle_mount: str = "approle"
    vault_timeout_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Per request: a sealed or dead Vault fails fast."
    )

    chroma_url: str = Field(default="", description="Empty: embedded Chroma under DATA_DIR.")
    embedder: Literal["lexical", "local", "api"] = "lexical"
    embedding_model: str = Field(
        default="text-embedding-3-small", description="LiteLLM model when EMBEDDER=api."
    )
    local_embedding_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="sentence-transformers model name or directory when EMBEDDER=local.",
    )
    max_upload_bytes: int = Field(default=20_000_000, ge=1, description="Knowledge uploads.")
    api_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest REST API request body (413 above)."
    )
    api_token_secret: str = Field(
        default="",
        description="Signs the API's short-lived access tokens (JWT); empty: derived from the "
        "local secret key file. Set the same value on every web process.",
    )
    api_requests_per_minute_per_key: int = Field(default=600, ge=1, le=1_000_000)
    api_requests_per_minute_per_org: int = Field(default=3000, ge=1, le=10_000_000)

    web_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Web server processes on PORT; more than one keeps page state in Redis.",
    )
    reflex_redis_url: str = Field(
        default="",
        description="Where Reflex keeps each browser tab's page state, shared by every web "
        "process behind one URL; empty: REDIS_URL when WEB_PROCESSES > 1, else in memory.",
    )
    worker_processes: int = Field(default=1, ge=0, le=64, description="RQ workers (general)")
    agent_worker_processes: int = Field(default=1, ge=0, le=64, description="async run workers")
    run_lease_seconds: int = Field(default=15, ge=1, le=600, description="dead-worker detection")
    execution_retention_months: int = Field(
        default=0,
        ge=0,
        le=1200,
        description="Runs (with their steps) older than this many whole months are dropped by "
        "a daily job; 0: kept for ever.",
    )
    run_concurrency: int = Field(default=200, ge=1, le=5000, description="runs per agent worker")
    session_days: int = Field(default=14, ge=1, le=365)
    invite_days: int = Field(default=7, ge=1, le=90)
    # Sign-in throttling: after the free attempts each further one waits twice as long as the
    # one before (base, 2·base, … up to the max); per (account, client) pair and per client.
    login_free_attempts: int = Field(default=5, ge=1, le=1000)
    login_client_free_attempts: int = Field(default=20, ge=1, le=100_000)
    login_base_delay_seconds: float = Field(default=1.0, gt=0, le=3600)
    login_max_delay_seconds: float = Field(default=900.0, gt=0, le=86_400)
    login_forget_seconds: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="quiet time before counts are dropped"
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is "
        "believed for the client address; empty: the header is ignored.",
    )
    registration_open: bool = True

    outbound_allow_hosts: str = Field(
        default="",
        description="Comma-separated hostnames, IPs or CIDRs reachable despite being private "
        "(e.g. a self-hosted Ollama). IP/CIDR entries match IP URLs, names match names.",
    )
    org_private_hosts: bool = Field(
        default=True,
        description="Let each organization's admins open private hosts for that org's own "
        "runs (e.g. their Ollama); turn off where tenants must not reach the internal network.",
    )
    outbound_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    outbound_max_bytes: int = Field(default=2_000_000, ge=1)
    web_search_provider: Literal["", "searxng", "brave", "tavily"] = ""
    web_search_url: str = Field(default="", description="SearXNG base URL.")
    web_search_api_key: str = Field(default="", description="Brave or Tavily API key.")

    # OAuth apps registered by the instance admin (redirect URI: BASE_URL + OAUTH_CALLBACK).
    # *_BASE_URL replaces the provider's hosts (GitHub Enterprise, a proxy, a test double).
    oauth_slack_client_id: str = ""
    oauth_slack_client_secret: str = ""
    oauth_slack_base_url: str = ""
    oauth_google_client_id: str = ""
    oauth_google_client_secret: str = ""
    oauth_google_base_url: str = ""
    oauth_github_client_id: str = ""
    oauth_github_client_secret: str = ""
    oauth_github_base_url: str = ""
    oauth_linkedin_client_id: str = ""
    oauth_linkedin_client_secret: str = ""
    oauth_linkedin_base_url: str = ""
    integration_calls_per_minute: int = Field(
        default=60, ge=1, le=100_000, description="per connection, across all agents"
    )
    # Plans (tiers) cap agents, runs, concurrency and members only where someone sells them:
    # off (the default), every organization is unlimited unless the instance admin set a limit.
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    billing_enabled: bool = Field(
        default=False, description="Apply the tier limits; needs STRIPE_SECRET_KEY."
    )
    stripe_api_base: str = Field(
        default="", description="Stripe API origin; empty: Stripe's own (tests: a local fake)."
    )
    marketplace_fee_percent: float = Field(
        default=10.0, ge=0, le=100, description="the platform's share of each marketplace sale"
    )
    stripe_plan_prices: dict[str, str] = Field(
        default_factory=dict,
        description='Stripe price id per plan, JSON: {"pro": "price_...", "team": "price_..."}',
    )
    stripe_meter_event: str = Field(
        default="marketplace_service_run",
        description="meter event name of a billed service run; each event's value is the run's "
        "price in cents, so the metered Stripe Price on this meter must be $0.01 per unit",
    )
    # Marketplace icons and screenshots: a folder under DATA_DIR unless a bucket is set.
    marketplace_s3_bucket: str = Field(
        default="", description="S3-compatible bucket for listing files; empty: DATA_DIR."
    )
    marketplace_s3_endpoint_url: str = Field(
        default="", description="e.g. a MinIO or R2 URL; empty: AWS."
    )
    marketplace_s3_region: str = ""
    marketplace_s3_access_key_id: str = ""
    marketplace_s3_secret_access_key: str = ""
    marketplace_s3_prefix: str = Field(default="", description="Key prefix inside the bucket.")
    approval_timeout_seconds: int = Field(
        default=900, ge=10, le=86_400, description="how long a run waits for a person's yes"
    )
    schedule_tick_seconds: float = Field(
        default=1.0, gt=0, le=60, description="how often each scheduler process fires due schedules"
    )
    schedule_tick_batch: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="schedules per transaction: a burst commits (and enqueues) in steps of this",
    )
    schedule_misfire_grace_seconds: int = Field(
        default=60, ge=1, le=86_400, description="a fire time older than this was missed (downtime)"
    )
    # Observability (agent_platform/observability/).
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: a readable line in a terminal, JSON otherwise"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_token: str = Field(
        default="", description="Bearer token for /metrics; empty: this machine only."
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Worker processes run alone (containers): serve /metrics on this port; "
        "0: off (under `up` the web process shows every process's metrics).",
    )
    otel_exporter_otlp_endpoint: str = Field(
        default="", description="OTLP/HTTP collector base URL for traces; empty: no tracing."
    )
    otel_service_name: str = "agent-platform"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("vault_mount", "vault_path_prefix", "vault_approle_mount")
    @classmethod
    def _vault_path(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().strip("/")
        if not value and info.field_name == "vault_path_prefix":
            return value  # secrets directly under the mount
        if any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("must be a plain path like 'secret' or 'teams/agent-platform'")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            if entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return value

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [
            ipaddress.ip_network(e.strip(), strict=False)
            for e in self.trusted_proxies.split(",")
            if e.strip()
        ]

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _http_endpoint(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP)")
        return value

    @field_validator("redis_url", "reflex_redis_url")
    @classmethod
    def _known_redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("billing_enabled")
    @classmethod
    def _billing_needs_stripe(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("stripe_secret_key"):
            raise ValueError("needs STRIPE_SECRET_KEY (plans are sold through Stripe)")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'platform.db').resolve()}"

    @property
    def bundled_redis_socket(self) -> Path:
        return (self.data_dir / "redis.sock").resolve()

    @property
    def resolved_redis_url(self) -> str:
        return self.redis_url or f"unix://{self.bundled_redis_socket}"

    @property
    def page_state_redis_url(self) -> str:
        """Reflex's state in Redis, or "" to keep it in the web process's memory (one process
        only: a second one would not know the tabs the first one served)."""
        if self.reflex_redis_url:
            return self.reflex_redis_url
        return self.resolved_redis_url if self.web_processes > 1 else ""

    @property
    def resolved_base_url(self) -> str:
        return (self.base_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def app_origins(self) -> list[str]:
        """Origins the browser app is served from (CORS, websocket, CSP connect-src): BASE_URL's,
        and with BASE_URL unset both local spellings of http://localhost:PORT."""
        parts = urlsplit(self.resolved_base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return [origin] if self.base_url else [origin, f"http://127.0.0.1:{self.port}"]


@functools.cache
def get_settings() -> Settings:
    """Load settings once per process; raise SettingsError naming the first bad field."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"Setting {name} is invalid: {first['msg']}") from None
