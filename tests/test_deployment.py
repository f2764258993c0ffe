"""The production layout of `compose.yaml`, as far as this machine can run it.

No Docker engine runs here (only its client), so `docker compose up` itself cannot. What is
proven instead: the layout and the code agree (every PeaceWatch variable compose sets is one the
app reads, its commands are the CLI's, the proxy sends to where the app listens, the app's
database is the `db` service's), and the layout's two PeaceWatch steps, `migrate` then `app`,
run here as compose would run them (same commands, same environment, the database URL pointed
at this machine's PostgreSQL): migrations once, then the workers serving on the new schema.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
import yaml

from backend.cli import app as cli_app
from backend.config import Settings
from bench.common import Server, free_port, incident, postgres_database, sqlalchemy_url

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("PEACEWATCH_TEST_POSTGRES_URL", "").strip()
PASSWORD = "not-a-real-secret"  # stands for ${POSTGRES_PASSWORD}


def _resolve(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env and env[name] != "":
            return env[name]
        if op == ":-":
            return arg
        raise AssertionError(f"compose.yaml needs ${name}: {arg}")

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", one, text)


def _compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    env = {"POSTGRES_PASSWORD": PASSWORD} if env is None else env
    text = _resolve((ROOT / "compose.yaml").read_text(), env)
    return yaml.safe_load(text)  # PyYAML's safe loader takes the `<<` merge keys compose uses


def _cli_command(argv: list[str]) -> Any:
    """Parse `peacewatch ARGV` as the CLI would, without running it (fails on a wrong option)."""
    assert argv[0] == "peacewatch", argv
    command = typer.main.get_command(cli_app)
    args = list(argv[1:])
    while hasattr(command, "commands"):  # a group (Typer's own click, not `click`'s classes)
        name = args.pop(0)
        assert name in command.commands, f"no command '{name}' in `{' '.join(argv)}`"
        command = command.commands[name]
    return command.make_context(argv[-1], args)


def _known_variables() -> set[str]:
    """Every environment variable PeaceWatch reads: its settings and the CLI's own options."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = {f"{prefix}{name}".upper() for name in Settings.model_fields}

    def walk(command: Any) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(cli_app))
    return names


def test_compose_sets_only_what_the_app_reads_and_runs_the_clis_commands() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) >= {"db", "migrate", "app", "proxy"}, set(services)
    known = _known_variables()
    for name in ("migrate", "app"):
        service = services[name]
        ours = {k for k in service["environment"] if k.startswith("PEACEWATCH_")}
        assert ours, f"{name} sets no PEACEWATCH_ variable"
        assert ours <= known, f"{name} sets variables the app never reads: {ours - known}"
        _cli_command(service["command"])  # a wrong command or option fails here
    assert services["migrate"]["command"] == ["peacewatch", "db", "upgrade"]
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    # The app's database is the `db` service, as its user and database.
    url = sa.make_url(services["app"]["environment"]["PEACEWATCH_DATABASE_URL"])
    db_env = services["db"]["environment"]
    assert (url.host, url.port, url.get_backend_name()) == ("db", 5432, "postgresql")
    assert (url.username, url.database, url.password) == (
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_DB"],
        db_env["POSTGRES_PASSWORD"],
    )

    # The proxy sends to the port the app listens on, by the app service's name.
    serve = _cli_command(services["app"]["command"])
    port = serve.params["port"]
    assert str(port) in [str(p) for p in services["app"]["expose"]]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(rf"^\s*server\s+app:{port};", nginx, re.M), "nginx.conf's upstream"
    mounted = [v.split(":")[0] for v in services["proxy"]["volumes"]]
    assert "./deploy/nginx.conf" in mounted

    # The image's entry point is the CLI compose calls.
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["peacewatch"] == "backend.cli:main"


def test_compose_refuses_to_start_without_a_database_password() -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        _compose({})


def _peacewatch() -> list[str]:
    found = shutil.which("peacewatch", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "backend.cli"]


@pytest.mark.postgres
@pytest.mark.skipif(
    not POSTGRES_URL, reason="set PEACEWATCH_TEST_POSTGRES_URL (make test-postgres)"
)
def test_the_migrate_and_app_steps_run_as_compose_runs_them(tmp_path: Path) -> None:
    """`migrate` (once, then exits 0), then `app` with compose's command and environment and
    PEACEWATCH_WORKERS=2: it serves the API on the migrated schema; a second `migrate` (a
    redeploy) changes nothing."""
    services = _compose({"POSTGRES_PASSWORD": PASSWORD, "PEACEWATCH_WORKERS": "2"})["services"]
    with postgres_database(POSTGRES_URL, "pw_compose") as url:
        local = sa.make_url(sqlalchemy_url(url))

        def env_of(service: str) -> dict[str, str]:
            env = {**os.environ, **{k: str(v) for k, v in services[service]["environment"].items()}}
            env["PEACEWATCH_DATABASE_URL"] = local.render_as_string(hide_password=False)
            env["PEACEWATCH_DASHBOARD_SECRET_FILE"] = str(tmp_path / "dashboard-secret")
            env["PEACEWATCH_LOG_LEVEL"] = "WARNING"
            return env

        command = [*_peacewatch(), *services["migrate"]["command"][1:]]
        for _ in range(2):  # a redeploy runs it again: nothing to do, still 0
            done = subprocess.run(
                command, env=env_of("migrate"), cwd=tmp_path, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr

        argv = [*_peacewatch(), *services["app"]["command"][1:]]
        port = free_port()
        argv[argv.index("--port") + 1] = str(port)
        argv[argv.index("--host") + 1] = "127.0.0.1"
        server = Server(argv, env_of("app"), port, tmp_path, tmp_path / "app.log").start()
        try:
            token = (
                subprocess.run(
                    [*_peacewatch(), "token", "create", "--role", "reporter", "--name", "patrol"],
                    env=env_of("app"),
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("POST", "/api/v1/incidents", json.dumps(incident(1)), headers)
                created = conn.getresponse()
                body = json.loads(created.read())
                assert created.status == 201, body
                for _ in range(6):  # whichever worker answers, it reads the same database
                    conn.request("GET", f"/api/v1/incidents/{body['id']}", headers=headers)
                    got = conn.getresponse()
                    assert got.status == 200, got.read()
                    assert json.loads(got.read())["id"] == body["id"]
            finally:
                conn.close()
            assert server.proc is not None
            assert server.proc.poll() is None, server.log_tail()
            pid = server.proc.pid
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            assert len(children) >= 2, f"PEACEWATCH_WORKERS=2 started {children}"
        finally:
            server.stop()
