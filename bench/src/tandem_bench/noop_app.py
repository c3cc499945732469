"""FastAPI's own ceiling on this machine: the same routes, parsing the same JSON, doing nothing, 201.

Served exactly as the services are (``tandem_runtime.service.serve``: uvicorn, the same logging), so
the write-path figures can say how much of the framework's ceiling the services reach.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from tandem_runtime.service import serve
from tandem_runtime.settings import ServiceSettings


class NoopSettings(ServiceSettings):
    """``TANDEM_NOOP_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_NOOP_", extra="ignore")

    port: int = 8009


def build_app() -> FastAPI:
    """An app that accepts goals and check-ins and does nothing with them."""
    app = FastAPI(title="no-op")

    @app.post("/v1/goals", status_code=201)
    async def accept_goal(body: dict[str, Any]) -> dict[str, Any]:
        return {"accepted": True}

    @app.post("/v1/check-ins", status_code=201)
    async def accept_check_in(body: dict[str, Any]) -> dict[str, Any]:
        return {"accepted": True}

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main() -> None:
    """Serve the no-op app."""
    settings = NoopSettings()
    serve("noop", settings, build_app)


if __name__ == "__main__":
    main()
