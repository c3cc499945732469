"""The error format every service shares (``tandem_runtime.http``): what is answered, and what OpenAPI says."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from tandem_runtime.http import PROBLEM_JSON, PROBLEM_RESPONSES, install_operational_routes, request_digest
from tandem_runtime.metrics import Metrics


class Minutes(BaseModel):
    minutes: int
    names: dict[str, int] = {}


@pytest.fixture
def api() -> httpx.AsyncClient:
    app = FastAPI()
    install_operational_routes(app, Metrics("test"))

    @app.post("/v1/things", status_code=201, responses=PROBLEM_RESPONSES)
    async def post(thing: Minutes) -> Minutes:
        return thing

    @app.get("/v1/things/{thing_id}", responses=PROBLEM_RESPONSES)
    async def get(thing_id: str) -> Minutes:
        return Minutes(minutes=1)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


async def test_a_body_that_is_not_text_is_a_422_naming_the_body(api):
    answer = await api.post("/v1/things", content=b"\xff\xfe(", headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["errors"] == [{"field": "body", "rule": "json_invalid",
                                        "message": "There was an error parsing the body"}]


def test_an_integer_beyond_64_bits_has_a_digest_as_any_other_request():
    huge = Minutes(minutes=2**80, names={"b": 1, "a": 2})
    assert request_digest(huge) == request_digest(Minutes(minutes=2**80, names={"a": 2, "b": 1}))
    assert request_digest(huge) != request_digest(Minutes(minutes=2**80 + 1, names={"a": 2, "b": 1}))


async def test_openapi_shows_problems_as_problem_json_and_a_body_limit_where_a_body_is_taken(api):
    document = (await api.get("/openapi.json")).json()
    post = document["paths"]["/v1/things"]["post"]["responses"]
    get = document["paths"]["/v1/things/{thing_id}"]["get"]["responses"]
    assert post["422"]["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "413" in post and "413" not in get
    problem = document["components"]["schemas"]["Problem"]
    assert problem["properties"]["errors"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert {"field", "rule", "message"} <= set(document["components"]["schemas"]["FieldError"]["properties"])
