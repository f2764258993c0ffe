"""The one settings object. Built once (from `PEACEWATCH_*` variables) and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "peacewatch.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PEACEWATCH_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    # SQLite waits this long for a competing writer instead of failing with "database is locked".
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    db_pool_size: int = Field(default=10, ge=1)

    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Larger bodies get 413")
    import_max_bytes: int = Field(
        default=16_777_216, ge=1024, description="Body limit of POST /api/v1/imports/{source}"
    )
    sync_max_items: int = Field(default=1000, ge=1, description="Items per POST /api/v1/sync")
    sync_max_body_bytes: int = Field(
        default=16_777_216, ge=1024, description="Body limit of POST /api/v1/sync"
    )
    # Replays are recognised this long; a device offline for longer still cannot make a twin:
    # a re-sent record id is refused with 409 forever.
    idempotency_retention_days: int = Field(default=30, ge=1)
    page_size_default: int = Field(default=50, ge=1)
    page_size_max: int = Field(default=500, ge=1)
    # Reports may be timestamped a little ahead of the server's clock by a device's drift.
    clock_skew_seconds: int = Field(default=300, ge=0)

    # Requests per API token per minute, per server process (0: no limit).
    rate_limit_per_minute: int = Field(default=1200, ge=0)
    # An open /api/v1/stream gets a comment this often, so proxies keep it and dead clients go.
    stream_heartbeat_seconds: float = Field(default=15, gt=0)

    docs_enabled: bool = Field(default=True, description="Serve /docs and /openapi.json")
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "PEACEWATCH_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL"
            )
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            # psycopg 3 is the driver we ship; the bare scheme would ask for psycopg2.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
