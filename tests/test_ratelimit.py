"""Requests per token per minute: 429 with Retry-After past the limit, per token, off at 0."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.config import Settings
from backend.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(settings: Settings, db) -> TestClient:
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_fourth_request_in_a_minute_gets_429(limited, auth):
    headers = auth("viewer")
    for _ in range(3):
        assert limited.get("/api/v1/parties", headers=headers).status_code == 200
    response = limited.get("/api/v1/parties", headers=headers)
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert set(body) == {"detail", "errors", "request_id"}
    assert "3 a minute" in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


def test_another_token_has_its_own_budget(limited, auth):
    first, second = auth("viewer"), auth("analyst")
    for _ in range(4):
        limited.get("/api/v1/parties", headers=first)
    assert limited.get("/api/v1/parties", headers=first).status_code == 429
    assert limited.get("/api/v1/parties", headers=second).status_code == 200


def test_requests_without_a_valid_token_are_not_counted(limited, auth):
    headers = auth("viewer")
    for _ in range(5):
        assert limited.get("/api/v1/parties").status_code == 401
        bad = {"Authorization": "Bearer pw_not-a-token"}
        assert limited.get("/api/v1/parties", headers=bad).status_code == 401
    assert limited.get("/api/v1/parties", headers=headers).status_code == 200


def test_a_limit_of_zero_means_unlimited(settings, db, auth):
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 0}))
    headers = auth("viewer")
    with TestClient(app) as test_client:
        for _ in range(30):
            assert test_client.get("/api/v1/parties", headers=headers).status_code == 200


def test_each_app_has_a_fresh_limiter(settings):
    first = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    second = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    assert first.state.rate_limiter is not second.state.rate_limiter


def test_429_is_documented():
    operation = create_app().openapi()["paths"]["/api/v1/parties"]["get"]
    assert "429" in operation["responses"]


# --- the limiter itself, on a fake clock --------------------------------------------------------


def test_the_bucket_refills_over_the_window():
    clock = FakeClock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("a") == 20  # one request every 60 / 3 seconds
    clock.now += 5
    assert limiter.hit("a") == 15
    clock.now += 15
    assert limiter.hit("a") == 0  # one came back
    assert limiter.hit("a") == 20
    clock.now += 60
    assert [limiter.hit("a") for _ in range(3)] == [0, 0, 0]  # full again, never more
    assert limiter.hit("a") > 0


def test_retry_after_is_whole_seconds_rounded_up():
    clock = FakeClock()
    limiter = RateLimiter(7, clock=clock)  # one every 8.57 s
    for _ in range(7):
        limiter.hit("a")
    assert limiter.hit("a") == 9
    clock.now += 8.5
    assert limiter.hit("a") == 1


def test_idle_keys_are_forgotten():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    for n in range(100):
        limiter.hit(f"token-{n}")
    assert len(limiter) == 100
    clock.now += 61
    limiter.hit("someone")
    assert len(limiter) == 1


def test_keys_are_bounded():
    limiter = RateLimiter(10, clock=FakeClock(), max_keys=50)
    for n in range(500):
        limiter.hit(f"token-{n}")
    assert len(limiter) <= 50


def test_zero_is_unlimited():
    limiter = RateLimiter(0, clock=FakeClock())
    assert not limiter.enabled
    assert all(limiter.hit("a") == 0 for _ in range(10_000))
    assert len(limiter) == 0


def test_the_limiter_is_thread_safe():
    limiter = RateLimiter(1000, clock=FakeClock())  # the clock stands still: no refill
    allowed = []

    def hammer() -> None:
        allowed.append(sum(1 for _ in range(300) if limiter.hit("shared") == 0))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 1000
