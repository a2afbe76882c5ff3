"""What is refused at the edge, in the one error body: NUL characters, oversized input, unparsable bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import SignUp
from tests.mcp.conftest import call, create_api_key, structured
from tests.mcp.test_learning_tools import in_process_server

COURSE = "genai-fundamentals"
NUL = "\x00"


def _assert_validation_error(response: httpx.Response, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    if field is not None:
        assert field in [problem["field"] for problem in error["details"]["errors"]], error


async def test_nul_characters_are_refused_in_every_stored_text_field(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp
) -> None:
    learner = await sign_up()
    headers = learner["headers"]
    session = (await client.post("/api/v1/sessions", json={"interface": "web"}, headers=headers)).json()
    conversation = (await client.post("/api/v1/tutor/conversations", json={}, headers=headers)).json()
    attempts: list[tuple[str, str, dict[str, Any], str | None]] = [
        (
            "POST",
            "/api/v1/auth/register",
            {
                "email": "n@example.com",
                "password": "long enough",
                "full_name": f"Ada{NUL}",
                "software_experience": "beginner",
                "hardware_experience": "none",
            },
            "full_name",
        ),
        ("PATCH", "/api/v1/me", {"full_name": f"Ada{NUL}Lovelace"}, "full_name"),
        ("PATCH", "/api/v1/me", {"preferences": {"language": f"en{NUL}"}}, "preferences.language"),
        ("POST", "/api/v1/me/api-keys", {"name": f"laptop{NUL}"}, "name"),
        ("POST", "/api/v1/sessions", {"interface": "web", "metadata": {"app": f"1.0{NUL}"}}, "metadata.app"),
        ("POST", "/api/v1/sessions", {"interface": "web", "device": f"x{NUL}"}, "device"),
        (
            "POST",
            f"/api/v1/tutor/conversations/{conversation['id']}/messages",
            {"content": f"What is{NUL} RAG?"},
            "content",
        ),
        (
            "POST",
            f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit",
            {"answers": {"q1": "a", "q4": f"transformer{NUL}"}},
            "answers.q4",
        ),
        ("PUT", f"/api/v1/progress/{COURSE}/01-intro-genai", {"section_id": f"01{NUL}"}, "section_id"),
    ]
    for method, url, body, field in attempts:
        _assert_validation_error(await client.request(method, url, json=body, headers=headers), field)

    # In the path of a tracked read, and in a query string.
    tracked = {**headers, "X-Learning-Session-Id": session["id"]}
    _assert_validation_error(await client.get(f"/api/v1/courses/{COURSE}/chapters/01%00x", headers=tracked))
    _assert_validation_error(await client.get("/api/v1/search", params={"q": f"rag{NUL}"}), "q")
    form = {"request": f"x{NUL}", "csrf_token": "t", "decision": "deny"}
    _assert_validation_error(await client.post("/oauth/consent", data=form), "request")

    # Nothing was written: the name, the session and the key list are as they were.
    assert (await client.get("/api/v1/me", headers=headers)).json()["full_name"] == "Ada Learner"
    assert (await client.get("/api/v1/me/api-keys", headers=headers)).json() == []
    async with app.state.engine.connect() as connection:
        accessed = (await connection.execute(text("SELECT chapters_accessed FROM learning_sessions"))).all()
    assert all(NUL not in str(row) for row in accessed)


async def test_preferences_are_a_closed_schema(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    learner = await sign_up()
    huge = {"preferences": {"language": "en", "blob": "x" * 10_000}}
    _assert_validation_error(await client.patch("/api/v1/me", json=huge, headers=learner["headers"]))
    changed = await client.patch(
        "/api/v1/me",
        json={"preferences": {"explanation_level": "advanced", "notifications": False, "language": "pt-BR"}},
        headers=learner["headers"],
    )
    assert changed.status_code == 200
    assert changed.json()["preferences"] == {
        "explanation_level": "advanced",
        "notifications": False,
        "language": "pt-BR",
    }


async def test_oversized_bodies_urls_and_headers_get_the_error_body(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp
) -> None:
    learner = await sign_up()
    limit = app.state.settings.max_request_bytes
    big = {"preferences": {"language": "en"}, "full_name": "x" * (limit + 1)}
    declared = await client.patch("/api/v1/me", json=big, headers=learner["headers"])
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"
    assert declared.json()["error"]["details"]["limit"] == limit

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"full_name": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = await client.patch(
        "/api/v1/me", content=chunks(), headers={**learner["headers"], "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"

    long_url = await client.get("/api/v1/search", params={"q": "x" * (app.state.settings.max_url_bytes + 1)})
    assert long_url.status_code == 414 and long_url.json()["error"]["code"] == "uri_too_long"
    many_headers = {f"X-Padding-{n}": "y" * 1000 for n in range(20)}
    too_many = await client.get("/healthz", headers=many_headers)
    assert too_many.status_code == 431 and too_many.json()["error"]["code"] == "headers_too_large"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"email": "a@example.com", ', "application/json"),
        (b"email=a@example.com&password=x", "application/json"),
        (b"not json at all", "text/plain"),
    ],
)
async def test_bodies_that_do_not_parse_are_validation_errors_naming_the_body(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=content, headers={"Content-Type": content_type}
    )
    _assert_validation_error(response)
    fields = [problem["field"] for problem in response.json()["error"]["details"]["errors"]]
    assert "0" not in fields and not any(field.isdigit() for field in fields)


async def test_security_headers_on_api_and_pages(client: httpx.AsyncClient) -> None:
    api = await client.get("/api/v1/courses")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" not in api.headers

    page = await client.get("/oauth/consent", params={"request": "not-a-request"})
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


async def test_docs_work_offline_from_packaged_assets(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "http" not in docs.text.split("<body>")[1].lower()
    policy = docs.headers["content-security-policy"]
    assert "'sha256-" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        served = await client.get(f"/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000
    assert (await client.get("/openapi.json")).status_code == 200


async def test_openapi_documents_every_error_with_the_error_body(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == error_ref, (path, status)
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"413", "422", "429"} <= set(login)
    me = spec["paths"]["/api/v1/me"]["get"]["responses"]
    assert {"401", "403"} <= set(me)
    chapter = spec["paths"]["/api/v1/courses/{course_id}/chapters/{chapter_id}"]["get"]["responses"]
    assert {"401", "403", "404", "503"} <= set(chapter)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def _request_schemas(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                found.append((f"{method} {path}", content["schema"]))
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "header"):
                    found.append((f"{method} {path} {parameter['name']}", parameter["schema"]))
    return found


def test_every_string_list_and_map_in_a_request_is_capped(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    uncapped: list[str] = []

    def walk(schema: dict[str, Any], where: str) -> None:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        for variant in schema.get("anyOf", []) + schema.get("allOf", []):
            walk(variant, where)
        kind = schema.get("type")
        bounded = "enum" in schema or "const" in schema or schema.get("format") in ("uuid", "date-time")
        if kind == "string" and "maxLength" not in schema and not bounded:
            uncapped.append(f"{where}: string")
        if kind == "array":
            if "maxItems" not in schema:
                uncapped.append(f"{where}: list")
            walk(schema.get("items", {}), f"{where}[]")
        for name, field in schema.get("properties", {}).items():
            walk(field, f"{where}.{name}")
        if isinstance(schema.get("additionalProperties"), dict) or "propertyNames" in schema:
            if "maxProperties" not in schema:
                uncapped.append(f"{where}: map")
            walk(schema.get("propertyNames", {"type": "string"}), f"{where}{{key}}")
            values = schema.get("additionalProperties")
            walk(values if isinstance(values, dict) else {}, f"{where}{{}}")

    for where, schema in _request_schemas(spec):
        walk(schema, where)
    # Path segments are bounded by the URL limit; the User-Agent header is stored cut to length.
    assert [item for item in uncapped if "user-agent" not in item] == []


async def test_nul_characters_are_refused_by_the_mcp_tools_too(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"])
    answers = {"q1": "a", "q4": f"transformer{NUL}"}
    async with in_process_server(app, api_key=key) as mcp:
        refused = await call(mcp, "submit_quiz_answers", course_id=COURSE, quiz_id="01-quiz", answers=answers)
    assert refused.is_error
    error = structured(refused)["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["errors"][0]["field"] == "answers.q4"
    history = await client.get(
        f"/api/v1/courses/{COURSE}/quizzes/01-quiz/attempts", headers=learner["headers"]
    )
    assert history.json()["attempts_count"] == 0
