"""The one settings object. Built once (from `PEACEWATCH_*` variables) and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
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
    # Connections kept open per process; as many again may open under a burst. The server's
    # thread pool runs up to 40 requests' database work at once.
    db_pool_size: int = Field(default=20, ge=1)

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
    # Failed token checks (unknown, revoked, expired or malformed token) per client address per
    # minute, per server process, before every token check from that address gets 429 for a
    # while: guessing tokens is slowed to this pace (0: no limit). Behind a reverse proxy, run
    # uvicorn with --proxy-headers so that the address is the client's, not the proxy's.
    auth_failures_per_minute: int = Field(default=20, ge=0)
    # A checked token is trusted this long without reading the token table again (0: never).
    # Revoking through the API takes effect at once; through the CLI, within this many seconds.
    token_cache_seconds: float = Field(default=5, ge=0)
    # An open /api/v1/stream gets a comment this often, so proxies keep it and dead clients go.
    stream_heartbeat_seconds: float = Field(default=15, gt=0)

    docs_enabled: bool = Field(default=True, description="Serve /docs and /openapi.json")
    log_level: str = "INFO"

    # Measures (backend/metrics; docs/methodology.md explains each one and its defaults).
    metrics_default_window_days: int = Field(default=90, ge=1)
    metrics_max_window_days: int = Field(default=3660, ge=1)
    # Points of a series are each measured over the trailing this-many days.
    metrics_series_window_days: int = Field(default=30, ge=1)
    # Severity of a verified violation: its category's weight, plus per death (counted up to cap).
    metrics_category_severity: dict[str, float] = Field(
        default={
            "armed_clash": 3.0,
            "shelling": 3.0,
            "attack_on_civilians": 4.0,
            "movement_of_forces": 1.0,
            "weapons_in_restricted_zone": 1.0,
            "denial_of_access": 1.0,
            "blockage_of_aid": 2.0,
            "child_recruitment": 4.0,
            "sexual_violence": 4.0,
            "abduction": 3.0,
            "hostile_propaganda": 0.5,
            "other": 1.0,
        }
    )
    metrics_fatality_weight: float = Field(default=0.5, ge=0)
    metrics_fatality_cap: int = Field(default=20, ge=0)
    compliance_weight_commitments: float = Field(default=0.5, ge=0)
    compliance_weight_violations: float = Field(default=0.5, ge=0)
    # Severity points per 30 days at which the violations component of compliance is halved.
    compliance_violation_half_point: float = Field(default=10.0, gt=0)
    trust_weight_violations: float = Field(default=0.4, ge=0)
    trust_weight_commitments: float = Field(default=0.3, ge=0)
    trust_weight_engagement: float = Field(default=0.2, ge=0)
    trust_weight_perception: float = Field(default=0.1, ge=0)
    trust_half_life_days: float = Field(default=30.0, gt=0)
    # Decayed severity points between a pair at which the violations component of trust halves.
    trust_violation_half_point: float = Field(default=5.0, gt=0)
    trust_track_weights: dict[str, float] = Field(
        default={"track_1": 1.0, "track_1_5": 0.75, "track_2": 0.5, "track_3": 0.25}
    )
    alert_recent_days: int = Field(default=7, ge=1)
    alert_baseline_days: int = Field(default=28, ge=1)
    alert_spike_p_value: float = Field(default=0.01, gt=0, lt=1)
    alert_spike_min_incidents: int = Field(default=5, ge=1)
    alert_compliance_drop: float = Field(default=15.0, gt=0)
    alert_spoiler_min_incidents: int = Field(default=3, ge=1)
    # New alerts on the live stream (backend/metrics/watch.py): checked this long after a write
    # that can change them (a burst is checked once), and every `alert_check_seconds` anyway.
    alert_watch_enabled: bool = Field(default=True, description="Announce new alerts live")
    alert_debounce_seconds: float = Field(default=2.0, ge=0, le=600)
    alert_check_seconds: float = Field(default=300.0, gt=0)

    # Dashboard (dashboard/; README "Dashboard"). Its session cookies are signed with this key;
    # when unset, one is generated once into `dashboard_secret_file` and read from there, so every
    # server process sharing that file accepts the same cookies (set the key itself when they do not).
    dashboard_secret_key: SecretStr | None = Field(default=None, min_length=32)
    dashboard_secret_file: Path = Path("data") / "dashboard-secret"
    dashboard_session_hours: float = Field(default=12, gt=0, description="Sign-in lasts this long")
    # A raster tile URL ({z}/{x}/{y}) for the incident map; unset: points on a plain background.
    dashboard_map_tile_url: str | None = None

    # Exports (backend/exports; README "Exports and the brief"): rows read per database round
    # trip while streaming. Memory per export grows with it, never with the export's size.
    export_batch_rows: int = Field(default=5_000, ge=100, le=100_000)

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
