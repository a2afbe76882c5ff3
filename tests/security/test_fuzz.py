"""API fuzzing with schemathesis against the app's own OpenAPI document, anonymous and as a learner.

Cases are generated from the document (valid and invalid inputs alike) and sent through the test's
ASGI client, on whichever database the run uses. Every answer must be no 5xx (except a documented
503: payments or a model not configured here), a status the document lists for that operation, and
a body that matches the schema documented for that status.
Bounded: a few examples per operation and generation mode, no deadline, no example database.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import SignUp

EXAMPLES_PER_OPERATION = 4
# A documented 503 (payments or a model not configured here) is an answer, not a crash; any other 5xx fails.
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations that would end the signed-in learner mid-run; their own tests cover them.
SKIPPED_WHEN_SIGNED_IN = {("DELETE", "/api/v1/me"), ("POST", "/api/v1/me/password")}


def _generate_cases(spec: dict[str, Any], *, signed_in: bool) -> list[schemathesis.Case]:
    """A bounded list of cases per operation, in both generation modes (drawn once, not shrunk)."""
    schema = schemathesis.openapi.from_dict(spec)
    cases: list[schemathesis.Case] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if signed_in and (operation.method.upper(), operation.path) in SKIPPED_WHEN_SIGNED_IN:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def collect(case: schemathesis.Case) -> None:
                cases.append(case)

            try:
                collect()
            except Exception as error:  # some operations have no invalid input to generate
                if "Unsatisfiable" not in type(error).__name__ and mode is GenerationMode.POSITIVE:
                    raise
    return cases


async def _fuzz(client: httpx.AsyncClient, spec: dict[str, Any], headers: dict[str, str]) -> list[str]:
    failures = []
    for case in _generate_cases(spec, signed_in=bool(headers)):
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        request_headers = {**(kwargs.get("headers") or {}), **headers}
        try:
            response = await client.request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers=request_headers,
                json=kwargs.get("json"),
                content=kwargs.get("data") if isinstance(kwargs.get("data"), bytes | str) else None,
                data=kwargs.get("data") if isinstance(kwargs.get("data"), dict) else None,
            )
            if response.status_code >= 500 and response.status_code != 503:
                not_a_server_error_answer = f"server error {response.status_code}: {response.text[:200]}"
                failures.append(
                    f"{case.operation.label}: {not_a_server_error_answer}\n  {case.as_curl_command()}"
                )
                continue
            case.validate_response(response, checks=CHECKS, headers=request_headers)
        except (Exception, BaseExceptionGroup) as error:  # failed checks raise a group; collect them all
            if isinstance(error, httpx.InvalidURL | httpx.LocalProtocolError | UnicodeEncodeError):
                continue  # the generated request cannot even be sent over HTTP
            summary = " ".join(str(error).split())[:400]
            failures.append(f"{case.operation.label}: {summary}\n  {case.as_curl_command()}")
    return failures


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document the app serves."""
    return app.openapi()


async def test_fuzzing_anonymous_requests(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    failures = await _fuzz(client, spec, {})
    if failures:
        pytest.fail(f"{len(failures)} failing cases:\n\n" + "\n\n".join(failures[:40]), pytrace=False)


async def test_fuzzing_as_a_signed_in_learner(
    client: httpx.AsyncClient, spec: dict[str, Any], sign_up: SignUp
) -> None:
    learner = await sign_up()
    failures = await _fuzz(client, spec, learner["headers"])
    if failures:
        pytest.fail(f"{len(failures)} failing cases:\n\n" + "\n\n".join(failures[:40]), pytrace=False)


def test_fuzz_cases_are_bounded(spec: dict[str, Any]) -> None:
    cases = _generate_cases(spec, signed_in=False)
    operations = {case.operation.label for case in cases}
    assert len(operations) >= 30
    assert len(cases) <= len(operations) * EXAMPLES_PER_OPERATION * 2
