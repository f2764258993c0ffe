"""The `peacewatch` command, run as a user runs it: a real process on a real database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from tests.helpers import free_port

BIN = Path(sys.executable).with_name("peacewatch")


def run(*args: str, url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PEACEWATCH_DATABASE_URL": url}
    result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_token_create_prints_the_token_alone_on_its_last_line(settings, db, database_url):
    # A token revoked from the CLI stops working within PEACEWATCH_TOKEN_CACHE_SECONDS.
    quick = settings.model_copy(update={"token_cache_seconds": 0.2})
    with TestClient(create_app(quick)) as client:
        _token_round_trip(client, database_url)


def _token_round_trip(client, database_url):
    out = run("token", "create", "--name", "patrol-3", "--role", "reporter", url=database_url)
    secret = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"pw_[A-Za-z0-9_-]{40,}", secret)
    response = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200

    listed = run("token", "list", url=database_url).stdout
    assert "patrol-3" in listed
    assert "reporter" in listed
    assert secret not in listed

    run("token", "revoke", "patrol-3", url=database_url)
    time.sleep(0.3)
    response = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_token_create_refuses_an_unknown_role_or_a_taken_name(db, database_url):
    bad_role = run(
        "token", "create", "--name", "x", "--role", "boss", url=database_url, check=False
    )
    assert bad_role.returncode != 0
    assert "boss" in bad_role.stderr
    run("token", "create", "--name", "dup", "--role", "viewer", url=database_url)
    dup = run("token", "create", "--name", "dup", "--role", "viewer", url=database_url, check=False)
    assert dup.returncode == 1
    assert "exists already" in dup.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = run("serve", "--port", str(free_port()), url=url, check=False)
    assert result.returncode == 1
    assert "peacewatch db upgrade" in result.stderr


def test_a_new_database_is_migrated_served_and_prints_a_first_admin_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    run("db", "upgrade", url=url)
    port = free_port()
    env = {**os.environ, "PEACEWATCH_DATABASE_URL": url}
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("server did not come up")
            time.sleep(0.2)
        server.terminate()
        output, _ = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
    secret = re.search(r"pw_[A-Za-z0-9_-]{40,}", output)
    assert secret, output
    assert f"http://127.0.0.1:{port}/docs" in output
    # The token works: serve it again and create a party with it.
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        headers = {"Authorization": f"Bearer {secret.group(0)}"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = httpx.post(
                    f"{base}/api/v1/parties",
                    headers=headers,
                    timeout=2,
                    json={"name": "Gov", "code": "GOV", "kind": "state_force"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response.status_code == 201
    finally:
        server.terminate()
        _, err = server.communicate(timeout=15)
    assert "first admin" not in err  # only on a new database
