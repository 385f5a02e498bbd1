"""Property-based: Schemathesis generates requests from /api/v1/openapi.json.

Every operation, with valid and invalid inputs: no 5xx, and every answer (status, headers,
content type, body) matches the document; requests the document forbids are refused.

One default check is left out: "a schema-valid request is accepted". The document cannot say
what the configured model takes (its sizes, qualities, how many images) or what a prompt may
contain, so some schema-valid requests are rightly refused with a documented 422 and the
page's own message; every other check runs.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.api.conftest import routes
from tests.support.studios import fresh_studio
from visionary_app.settings import get_settings

# The document needs no studio; the handlers find it per request.
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", routes())


_TOKEN: dict[str, str] = {}
_STATUSES: defaultdict[str, set[int]] = defaultdict(set)


@schemathesis.auth(refresh_interval=None)  # each test has its own token
class ApiToken:
    """The token of the test's studio, set on every generated request (as a client would)."""

    def get(self, case, ctx):
        return _TOKEN.get("value", "")  # asked once while collecting, before any test

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def token(tmp_path, monkeypatch) -> str:
    """A studio in tmp_path with one image, and a token of its owner with every scope."""
    studio = fresh_studio(monkeypatch, tmp_path, access_users="alice:alice-password")

    async def prepare() -> str:
        await studio.pipeline.generate("a seeded image", owner="user:alice")
        made, _ = await studio.api_tokens.create("user:alice", "schemathesis",
                                                 ["read", "generate", "delete"])  # fmt: skip
        return made

    _TOKEN["value"] = asyncio.run(prepare())
    yield _TOKEN["value"]
    get_settings.cache_clear()


@schema.parametrize()
# Fresh examples on every local run; in CI the same ones each time (a landing must not hang
# on a new example: what a local run finds is fixed there, with a test of its own).
@settings(
    max_examples=25,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_document_and_none_is_a_5xx(case, token):
    response = case.call_and_validate(
        excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )
    _STATUSES[case.operation.label].add(response.status_code)


def test_the_generated_requests_got_past_the_token_check():
    # Run after the test above (file order): had the token not been sent, all would be 401.
    answered = {label: codes for label, codes in _STATUSES.items() if codes - {401, 403}}
    assert len(answered) == len(_STATUSES) >= 10, _STATUSES
    assert any(code < 300 for codes in _STATUSES.values() for code in codes)


def test_the_document_links_each_new_object_to_what_can_be_done_with_it():
    document = schema.raw_schema
    operations = {
        operation["operationId"]: (path, method)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    followed = set()
    for methods in document["paths"].values():
        for operation in methods.values():
            for answer in operation["responses"].values():
                for link in answer.get("links", {}).values():
                    path, _ = operations[link["operationId"]]  # a real operation
                    for name in link["parameters"]:
                        assert "{" + name + "}" in path  # a real parameter of it
                    followed.add(path)
    assert {"/jobs/{job_id}", "/images/{image_id}", "/boards/{board_id}"} <= followed


def test_the_stateful_phase_walks_real_objects_and_every_answer_matches(token):
    # Deterministic and short: a handful of walks of a few steps (jobs made, then read and
    # cancelled; boards made, then read, changed, filled and deleted).
    calls: list[str] = []

    class Walk(schema.as_state_machine()):
        def after_call(self, response, case):
            calls.append(f"{case.method} {case.path}")

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # As above: a body with made-up fields is refused (422), on purpose.
            case.validate_response(
                response,
                excluded_checks=[schemathesis.checks.positive_data_acceptance],
                transport_kwargs=kwargs,
            )

    Walk.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=4,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    walked = set(calls)
    # Links were followed: from a new job to it, from a new board to it.
    assert walked & {"GET /jobs/{job_id}", "POST /jobs/{job_id}/cancel"}, sorted(walked)
    assert walked & {
        "GET /boards/{board_id}",
        "PATCH /boards/{board_id}",
        "POST /boards/{board_id}/images",
        "DELETE /boards/{board_id}",
    }, sorted(walked)
