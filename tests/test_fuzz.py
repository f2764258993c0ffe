"""Schemathesis fuzzes the API from its own OpenAPI schema, in process (ASGI), on each database.

Every operation is called with a token of each role, with valid and invalid data, and every
check is on: no server error, responses match their documented schema, status codes and content
types, invalid data is refused. The stateful test chains create-then-read-then-change sequences
along the links Schemathesis infers from the schema (its dependency analysis links
`POST /incidents` to `GET /incidents/{incident_id}` and so on, so the schema declares none).
A failure here is fixed at its root (the schema or the code), never by loosening the schema or
turning a check off.

One judgement: schema-valid data may still break a rule that no JSON Schema can state (a
reference to a record that does not exist, a sum across fields, a forged cursor). Such a 422 is
accepted from `positive_data_acceptance`, and `business_rules_only` below fails any other 422 to
schema-valid data, which would mean the schema and the validation disagree.

Runs are deterministic (a fixed seed, derandomized Hypothesis) so that CI is not flaky.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import CheckContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from backend.app import create_app
from backend.config import Settings
from backend.db import Database
from backend.errors import DomainError
from backend.vocab import Role
from tests.conftest import TokenFactory
from tests.helpers import API, error_field, incident_body

SEED = 20261125
# The admin reaches every operation's code: valid and invalid data, every boundary (the coverage
# phase). The other roles are refused much of it (403), so fewer random examples suffice to prove
# each of their answers is documented and well formed.
ADMIN_EXAMPLES = 8
OTHER_ROLE_EXAMPLES = 4
STATEFUL_SCENARIOS = 12
STATEFUL_STEPS = 8


def _config(*, max_examples: int, coverage: bool) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",  # valid and invalid data
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",  # no example database: the same cases on every run
            },
            "checks": {
                "enabled": True,
                # Schema-valid data may still break a rule no schema can state: a reference to a
                # record that does not exist, a rule across fields, a forged cursor. Those 422s
                # are allowed here, and `business_rules_only` fails every other refusal.
                "positive_data_acceptance": {
                    # Schemathesis's own list (2xx, 3xx, 401, 403, 404, 409, 429, 5xx), plus 422.
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
                },
            },
            "phases": {"examples": {"enabled": True}, "coverage": {"enabled": coverage}},
            # A request's answer, however slow the host: these tests check rules, not speed. (Two
            # CI runs each saw one first request stall past the default 10 s: FastAPI prepared
            # every route on it, on the event loop. The app now does that at startup.)
            "request-timeout": 60,
            # The live stream never ends (its heartbeats are comments, not events): read what
            # comes within a second, then hang up.
            "operations": [{"include-path": "/api/v1/stream", "request-timeout": 1}],
        }
    )


def _rule_error_types() -> frozenset[str]:
    """Error types of refusals by a rule beyond the schema: a service's domain errors (named by
    their class) and `value_error`, a model validator's rule across fields."""
    names, todo = {"value_error"}, [DomainError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return frozenset(names)


def business_rules_only(ctx: CheckContext, response: Response, case: schemathesis.Case) -> None:
    """A 422 to schema-valid data must come from a business rule: a per-field refusal would mean
    that the schema promises what the validator refuses (the schema is wrong)."""
    meta = case.meta
    if response.status_code != 422 or meta is None or not meta.generation.mode.is_positive:
        return
    kinds = {error["type"] for error in response.json()["errors"]}
    if unknown := kinds - RULE_ERROR_TYPES:
        raise AssertionError(
            f"schema-valid data refused by request validation ({', '.join(sorted(unknown))}): "
            f"the schema and the validation disagree: {response.json()['detail']}"
        )


def _openapi() -> dict[str, Any]:
    """The app's own OpenAPI schema (building it needs no database)."""
    app = create_app(
        Settings(
            database_url="sqlite://",
            dashboard_secret_key="fuzz-" * 8,
            _env_file=None,  # type: ignore[call-arg]
        )
    )
    return app.openapi()


RULE_ERROR_TYPES = _rule_error_types()
OPENAPI = _openapi()
schema = schemathesis.openapi.from_dict(
    OPENAPI, config=_config(max_examples=ADMIN_EXAMPLES, coverage=True)
)
light_schema = schemathesis.openapi.from_dict(
    OPENAPI, config=_config(max_examples=OTHER_ROLE_EXAMPLES, coverage=False)
)


@pytest.fixture
def fuzz_app(database_url: str, db: Database) -> Iterator[FastAPI]:
    """The app on the test's database; Schemathesis runs its lifespan and calls it in process."""
    settings = Settings(
        database_url=database_url,
        rate_limit_per_minute=0,  # thousands of requests a minute, by design
        stream_heartbeat_seconds=0.05,
        _env_file=None,  # type: ignore[call-arg]
    )
    yield create_app(settings)
    # End the lifespan Schemathesis started before the database is emptied.
    asgi.shutdown_lifespans()


def _call(case: schemathesis.Case, app: FastAPI, headers: dict[str, str]) -> None:
    # The schema was read without a database; its requests (and its checks' probes) go to the
    # app on this test's database.
    case.operation.app = case.operation.schema.app = app
    case.call_and_validate(headers=headers, additional_checks=[business_rules_only])


# One app and one token serve all of a test's examples, as they would serve a client's requests.
_one_app = hypothesis.settings(
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)


@schema.parametrize()
@_one_app
def test_every_operation_as_admin(
    case: schemathesis.Case, fuzz_app: FastAPI, admin: dict[str, str]
) -> None:
    _call(case, fuzz_app, admin)


@pytest.fixture
def role_headers(role: Role, auth: TokenFactory) -> dict[str, str]:
    return auth(role)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.admin], ids=str)
@light_schema.parametrize()
@_one_app
def test_every_operation_for_every_other_role(
    case: schemathesis.Case, role: Role, fuzz_app: FastAPI, role_headers: dict[str, str]
) -> None:
    _call(case, fuzz_app, role_headers)


def test_create_then_read_sequences(fuzz_app: FastAPI, admin: dict[str, str]) -> None:
    schema.app = fuzz_app

    class APIWorkflows(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"headers": admin}

        def validate_response(
            self, response: Response, case: schemathesis.Case, **kwargs: object
        ) -> None:
            super().validate_response(
                response, case, additional_checks=[business_rules_only], **kwargs
            )

    APIWorkflows.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )


# What the fuzzer found, pinned down: each was a 500, a wrong status or data taken wrongly.


def test_a_nul_byte_in_a_filter_is_a_422_naming_it(client, auth):
    # It reached PostgreSQL, which cannot hold NUL bytes, and came back as a 500.
    response = client.get(f"{API}/ddr/targets", params={"site": "a\x00b"}, headers=auth("viewer"))
    assert error_field(response) == "site"
    named = client.delete(f"{API}/tokens/a%00b", headers=auth("admin"))
    assert error_field(named) == "path"


def test_a_body_that_is_not_utf8_is_malformed_json(client, auth):
    response = client.post(
        f"{API}/incidents",
        content=b'{"description": "\xc3\x28"}',
        headers={**auth("reporter"), "Content-Type": "application/json"},
    )
    assert error_field(response) == "body"
    assert "not UTF-8" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "field", "value"),
    [
        (f"{API}/incidents", "occurred_at", 0),
        (f"{API}/incidents", "occurred_at", "1700000000"),
        (f"{API}/parties", "signatory", 0),
        (f"{API}/tokens", "expires_at", 1.5),
    ],
)
def test_numbers_are_not_taken_for_dates_or_flags(client, admin, url, field, value):
    bodies = {
        f"{API}/incidents": incident_body(),
        f"{API}/parties": {"name": "Front", "code": "FR", "kind": "militia"},
        f"{API}/tokens": {"name": "later", "role": "viewer"},
    }
    response = client.post(url, json={**bodies[url], field: value}, headers=admin)
    assert error_field(response) == field


@pytest.mark.parametrize("query", ["date_to=0", "date_from=1700000000"])
def test_numbers_are_not_taken_for_dates_in_queries(client, auth, query):
    response = client.get(f"{API}/metrics/incidents?{query}", headers=auth("viewer"))
    assert error_field(response) == query.split("=")[0]


def test_a_method_a_path_does_not_take_is_405_with_allow(client, admin):
    for method, path, allow in [
        ("PUT", f"{API}/sync", "POST"),
        ("DELETE", f"{API}/parties", "GET, HEAD, POST"),
        ("OPTIONS", f"{API}/parties/{uuid.uuid4()}", "GET, HEAD, PATCH"),
    ]:
        response = client.request(method, path, headers=admin)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow
    assert client.put(f"{API}/nowhere", headers=admin).status_code == 404
