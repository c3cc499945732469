"""Settings every service reads from its environment (pydantic-settings)."""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tandem_runtime.database import DatabaseURL


class ServiceSettings(BaseSettings):
    """What every service needs; each service subclasses it with its own ``env_prefix`` and defaults.

    ``KAFKA_BOOTSTRAP_SERVERS`` is shared by all services and read without the prefix.
    """

    model_config = SettingsConfigDict(env_prefix="TANDEM_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "TANDEM_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_create_topics: bool = Field(
        default=True,
        validation_alias=AliasChoices("KAFKA_CREATE_TOPICS", "TANDEM_KAFKA_CREATE_TOPICS"),
        description="Create missing topics at start-up; turn off where topics are managed elsewhere (e.g. Strimzi).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite:///var/tandem.db"
    default_tenant: str = Field(
        default="demo", description="Tenant of requests without X-Tenant-ID, until bearer tokens carry it."
    )
    log_level: str = "INFO"
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Request bodies over this size are refused with 413."
    )

    def store_beside_events(self, explicit: str | None, file_name: str) -> str:
        """A second store's URL: ``explicit`` if given, else a SQLite file beside the event store's, else the same
        PostgreSQL database (its tables have their own names)."""
        if explicit:
            return explicit
        parsed = DatabaseURL.parse(self.database_url)
        if parsed.is_sqlite:
            return f"sqlite:///{PurePosixPath(parsed.path).parent / file_name}"
        return self.database_url
