"""What every Tandem HTTP service shares: health, metrics, request logging and the error format.

Errors are RFC 9457 problem documents. A 422 lists each offending field with the rule it broke.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tandem_contracts.bounds import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    TENANT_MAX_LENGTH,
    TENANT_PATTERN,
)
from tandem_runtime.eventstore import CommandContext, ConcurrentChange
from tandem_runtime.idempotency import IdempotencyKeyReused, RequestKey
from tandem_runtime.metrics import Metrics

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]
PROBLEM_JSON = "application/problem+json"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class RequestRefused(Exception):
    """A request the service understood and refuses: status, the field at fault and the rule it broke."""

    def __init__(self, status: int, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.rule = rule


class FieldError(BaseModel):
    field: str = Field(description="The input at fault, e.g. kpi.target, Idempotency-Key or If-Match.")
    rule: str = Field(description="The rule it broke, e.g. cadence_fits_kind.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document: every error a Tandem service answers."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What went wrong, in words a person understands.")
    errors: list[FieldError] | None = Field(default=None, description="422: each field at fault and its rule.")


def _problem_response(description: str) -> dict[str, Any]:
    # A $ref, not a "model": FastAPI would put a model's schema under the route's own media type.
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _problem_response(description)
    for status, description in (
        (404, "Unknown id (in this tenant)."),
        (409, "Stale If-Match version, or a concurrent change: read again and retry."),
        (422, "Refused: the fields at fault and the rules they broke."),
        (503, "A dependency (Kafka, the database) is unavailable; nothing was changed."),
    )
}
BODY_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: _problem_response("The request body is over the size limit; nothing was changed."),
}


TenantHeader = Annotated[
    str | None,
    Header(
        alias="X-Tenant-ID",
        max_length=TENANT_MAX_LENGTH,
        pattern=TENANT_PATTERN,
        description="The organisation (default: the service's).",
    ),
]


@dataclass(frozen=True)
class CommandRequest:
    """The headers every command carries: tenant, actor, idempotency key, correlation and trace."""

    tenant_id: str
    actor: str | None
    idempotency_key: str | None
    correlation_id: str | None
    traceparent: str | None

    def context(self, default_actor: str) -> CommandContext:
        """Who issues the command (``X-Actor-ID``, else ``default_actor``) and why."""
        return CommandContext.issued_by(
            self.actor or default_actor, self.correlation_id, self.idempotency_key, self.traceparent
        )

    def request_key(self, route: str, body: BaseModel | None = None) -> RequestKey | None:
        """The idempotency key of this request on ``route``, fingerprinted with its body."""
        if not self.idempotency_key:
            return None
        digest = request_digest(body) if body is not None else ""
        return RequestKey(self.tenant_id, self.idempotency_key, f"{route}:{digest}")


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header expects (``"3"``, ``W/"3"`` or ``3``); None without one."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise RequestRefused(422, 'If-Match takes the version from the ETag, e.g. "3"', field="If-Match", rule="version")
    return int(text)


def command_headers(default_tenant: str) -> Callable[..., Awaitable[CommandRequest]]:
    """A FastAPI dependency that reads the command headers; requests without a tenant get ``default_tenant``."""

    # async: it only reads headers, and a plain def would cost every command a worker-thread hop.
    async def read(
        tenant: TenantHeader = None,
        actor: Annotated[
            str | None,
            Header(alias="X-Actor-ID", max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="Who issues the command."),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=200,
                description="Makes a retried request one effect: the retry gets the first answer again.",
            ),
        ] = None,
        correlation_id: Annotated[str | None, Header(alias="X-Correlation-ID", max_length=128)] = None,
        traceparent: Annotated[str | None, Header(alias="traceparent", max_length=128)] = None,
    ) -> CommandRequest:
        return CommandRequest(tenant or default_tenant, actor, idempotency_key, correlation_id, traceparent)

    return read


def tenant_header(default_tenant: str) -> Callable[..., Awaitable[str]]:
    """A FastAPI dependency for queries: the ``X-Tenant-ID`` header, or ``default_tenant``."""

    async def read(tenant: TenantHeader = None) -> str:
        return tenant or default_tenant

    return read


def request_digest(body: BaseModel) -> str:
    """A fingerprint of a parsed request body, the same for the same request however its JSON was spelled."""
    fields = body.model_dump(mode="json")
    try:
        canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits, which orjson does not write
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def command_answer(
    view: BaseModel | bytes, *, replayed: bool, status: int = 201, headers: dict[str, str] | None = None
) -> Response:
    """A command's answer (a model, or JSON already written), written once: 201 (or ``status``), or 200 with
    ``Idempotent-Replayed`` for a retry.

    An endpoint that returned ``view`` itself would have it validated again against its response model, in
    a second hop to a worker thread, and that hop costs a command about a tenth of its time.
    """
    headers = dict(headers or {})
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    content = view if isinstance(view, bytes) else view.model_dump_json()
    return Response(content, status_code=200 if replayed else status, headers=headers, media_type="application/json")


def problem(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


async def _validation_failed(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            "field": "body" if item.get("type") == "json_invalid" else _field_path(item.get("loc", ())),
            "rule": item.get("type", "invalid"),
            "message": item.get("msg", ""),
        }
        for item in error.errors()
    ]
    fields = ", ".join(sorted({entry["field"] for entry in errors}))
    return problem(422, "Invalid request", f"invalid fields: {fields}", errors)


async def _refused(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestRefused)
    errors = [{"field": error.field, "rule": error.rule or "refused", "message": error.message}] if error.field else None
    titles = {404: "Not found", 409: "Conflict", 412: "Precondition failed", 422: "Invalid request"}
    return problem(error.status, titles.get(error.status, "Refused"), error.message, errors)


async def _key_reused(_: Request, error: Exception) -> Response:
    errors = [{"field": "Idempotency-Key", "rule": "same_request_on_retry", "message": str(error)}]
    return problem(422, "Invalid request", str(error), errors)


async def _concurrent_change(_: Request, error: Exception) -> Response:
    return problem(409, "Conflict", str(error))


async def _http_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:  # FastAPI's answer to a body it cannot read, such as bytes that are not UTF-8
        errors = [{"field": "body", "rule": "json_invalid", "message": str(error.detail)}]
        return problem(422, "Invalid request", "invalid fields: body", errors)
    return problem(error.status_code, str(error.detail), str(error.detail))


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", "the service failed; the error is logged")


async def _health(checks: dict[str, HealthCheck], good: str, bad: str) -> JSONResponse:
    results = {}
    for name, check in checks.items():
        try:
            ok, detail = await check()
        except Exception as error:  # a failing check means "unhealthy", never a 500
            ok, detail = False, f"{type(error).__name__}: {error}"
        results[name] = {"ok": ok, "detail": detail}
    healthy = all(result["ok"] for result in results.values())
    return JSONResponse({"status": good if healthy else bad, "checks": results}, status_code=200 if healthy else 503)


class _RequestMetrics:
    """Counts and times every HTTP request by route and status, as plain ASGI.

    Starlette's ``BaseHTTPMiddleware`` runs each request in an extra task with streams, which costs more
    event-loop time than a small command's own work.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_noting_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.http_requests.labels(scope["method"], path, str(status)).inc()
            self._metrics.http_seconds.labels(scope["method"], path).observe(time.perf_counter() - started)


class _BodyTooLarge(Exception):
    pass


class _BodyLimit:
    """Answers 413 to a request whose body is over ``limit`` bytes, declared or streamed, before a handler reads it all."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._limit):
            await self._refuse(send)
            return
        received = 0
        over = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._limit:
                    over = True
                    raise _BodyTooLarge
            return message

        async def answering_413_once_over(message: Message) -> None:
            # Whatever the handler made of the cut-off body (a 400, say), the answer is the 413.
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send)

        try:
            await self._app(scope, counting_receive, answering_413_once_over)
        except _BodyTooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps({
            "type": "about:blank", "title": "Payload too large", "status": 413,
            "detail": f"the request body is over {self._limit} bytes",
        })
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _document_problems(app: FastAPI) -> None:
    """Add the problem document's schema to the app's OpenAPI, and the answers every route with a body may get."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()  # FastAPI keeps it as app.openapi_schema, which is changed in place here
        schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(schema.pop("$defs", {}), Problem=schema)
        for operation in (operation for path in document.get("paths", {}).values() for operation in path.values()):
            if "requestBody" in operation:
                for status, answer in BODY_PROBLEM_RESPONSES.items():
                    operation["responses"].setdefault(str(status), answer)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_operational_routes(
    app: FastAPI,
    metrics: Metrics,
    *,
    readiness_checks: dict[str, HealthCheck] | None = None,
    liveness_checks: dict[str, HealthCheck] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Add ``/health/live``, ``/health/ready``, ``/metrics``, request metrics, the body size limit (413 over
    ``max_body_bytes``) and the problem+json errors.

    Liveness fails when the process cannot recover by itself (a background loop died): restart it.
    Readiness also includes the liveness checks, and fails while a dependency is unavailable.
    """
    live_checks = liveness_checks or {}
    ready_checks = {**live_checks, **(readiness_checks or {})}

    @app.get("/health/live", include_in_schema=False)
    async def live() -> JSONResponse:
        return await _health(live_checks, "live", "dead")

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        return await _health(ready_checks, "ready", "not ready")

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    _document_problems(app)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(RequestRefused, _refused)
    # Raised by the shared command machinery in every service: mapped here, once.
    app.add_exception_handler(IdempotencyKeyReused, _key_reused)
    app.add_exception_handler(ConcurrentChange, _concurrent_change)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
