"""The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
`make test` and `.ci/run` install), against the real server on the seeded demo mission.

Few tests, one browser and one server for the module: the machine has two cores.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend import migrate
from backend.auth import service as token_service
from backend.config import Settings
from backend.db import Database
from backend.demo.seed import seed
from backend.vocab import Role
from bench.common import Server, postgres_database, run_cli, server_env
from dashboard.context import COMPRESSOR_KEY, PREFETCH_KEY
from tests.helpers import API, ThreadServer, incident_body

POSTGRES_URL = os.environ.get("PEACEWATCH_TEST_POSTGRES_URL", "").strip()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PAGES = ("/", "/ceasefire", "/verification", "/agreements", "/ddr", "/diplomacy")
GRID_PAGES = ("/verification", "/agreements")  # with a grid in their layout
# Set to a folder (e.g. docs/screenshots) to save a screenshot of each page there.
SCREENSHOTS = os.environ.get("PEACEWATCH_SCREENSHOTS")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="browser tests skipped: no chromium/chromedriver on PATH; install Debian's chromium "
    "and chromium-driver (make test does it when run as root; .ci/run always does)",
)


def post_json(url: str, body: dict, token: str, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - http to our own test server
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, json.loads(response.read())


class Mission:
    def __init__(self, server: ThreadServer, tokens: dict[str, str], secret_id: str) -> None:
        self.server, self.tokens, self.secret_id = server, tokens, secret_id
        self.url = server.url


@pytest.fixture(scope="module")
def mission(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mission]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'mission.db'}"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        dashboard_secret_key=SecretStr("s" * 40),
        _env_file=None,  # type: ignore[call-arg]
    )
    db = Database(settings)
    seed(db)
    tokens = {}
    with db.session() as session:
        for role in (Role.admin, Role.viewer):
            tokens[role.value] = token_service.create_token(
                session=session, name=f"test-{role.value}", role=role
            )[1]
    db.dispose()
    with ThreadServer(settings) as server:
        body = incident_body(
            occurred_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            sensitivity="confidential",
            description="CONFIDENTIAL-SOURCE-NAMED do not show to viewers",
            admin1="Kessa County",
            latitude=7.9,
            longitude=-10.3,
        )
        status, created = post_json(f"{server.url}{API}/incidents", body, tokens["admin"])
        assert status == 201, created
        yield Mission(server, tokens, created["id"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.get("about:blank")  # closes the page's live stream before the server stops
        driver.quit()


def wait_for(check: Callable[[], Any], timeout: float = 10, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception as exc:  # the page may still be rendering
            value, error = None, exc
        else:
            error = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what} (last error: {error!r})"
            )
        time.sleep(0.05)


def sign_in(browser: Any, mission: Mission, role: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{mission.url}/signin?token={mission.tokens[role]}")
    wait_for(lambda: browser.find_element("id", "live-status"), what="the dashboard")


GRAPHS_JS = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => ({
  id: g.parentElement.id || g.id,
  traces: (g.data || []).length,
  points: (g.data || []).reduce((n, t) => n + ((t.x || t.y || t.z || t.lon || []).length), 0),
  ids: (g.data || []).flatMap(t => t.customdata || []),
  empty: ((g.layout || {}).annotations || []).map(a => a.text).join('|'),
}));
"""


def graphs(browser: Any) -> dict[str, dict]:
    return {g["id"]: g for g in browser.execute_script(GRAPHS_JS)}


def _drawn(found: dict[str, dict]) -> dict[str, dict] | None:
    """The page's charts once every one is drawn (with traces, or its "no data" note)."""
    ok = found and all(g["traces"] or g["empty"] for g in found.values())
    return found if ok else None


def console_errors(browser: Any) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_a_signed_out_visit_goes_to_sign_in_and_the_form_signs_in(browser, mission):
    browser.delete_all_cookies()
    browser.get(f"{mission.url}/verification?days=30")
    assert "/signin" in browser.current_url
    browser.find_element("id", "token").send_keys(mission.tokens["viewer"])
    browser.find_element("id", "signin-submit").click()
    wait_for(lambda: browser.current_url.endswith("/verification?days=30"), what="the redirect")
    wait_for(lambda: graphs(browser).get("vf-funnel", {}).get("traces"), what="the funnel")
    # A signed-out browser's callbacks are refused: sign out and call one from this page.
    browser.delete_all_cookies()
    status = browser.execute_script(
        "return fetch('/_dash-update-component', {method: 'POST', body: '{}', "
        "headers: {'Content-Type': 'application/json'}}).then(r => r.status)"
    )
    assert status == 401


def test_every_page_renders_its_charts_without_errors(browser, mission):
    sign_in(browser, mission, "admin")
    console_errors(browser)  # drop what came before
    for path in PAGES:
        browser.get(f"{mission.url}{path}?days=365")
        found = wait_for(lambda: _drawn(graphs(browser)), timeout=15, what=f"the charts of {path}")
        with_data = [k for k, g in found.items() if g["points"] and not g["empty"]]
        assert with_data, f"{path}: no chart has data: {found}"
        assert not browser.find_elements("css selector", ".dash-fe-error__title"), path
        if path in GRID_PAGES:  # AG Grid's script is loaded by these pages only, on demand
            wait_for(
                lambda: browser.find_elements("css selector", ".ag-root-wrapper"),
                what=f"the grid on {path}",
            )
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            name = path.strip("/") or "overview"
            browser.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))
    assert console_errors(browser) == []


def test_the_filter_bar_round_trips_through_the_url(browser, mission):
    sign_in(browser, mission, "admin")
    browser.get(f"{mission.url}/ceasefire?days=365")
    everywhere = wait_for(lambda: graphs(browser)["cf-map"]["ids"], what="the map")

    browser.get(f"{mission.url}/ceasefire?days=365&region=Kessa+County")
    wait_for(
        lambda: browser.find_element("id", "filter-region").text.strip() == "Kessa County",
        what="the region in the filter bar",
    )
    wait_for(
        lambda: 0 < len(graphs(browser)["cf-map"]["ids"]) < len(everywhere),
        what="the map narrowed to the region",
    )

    # And back: choosing a window in the bar writes it into the URL (the region stays).
    browser.find_element("id", "filter-days").click()
    option = wait_for(
        lambda: next(
            o
            for o in browser.find_elements("css selector", "[role=option]")
            if o.text == "Last 30 days"
        ),
        what="the window options",
    )
    option.click()
    wait_for(lambda: "days=30" in browser.current_url, what="the URL to change")
    assert "region=Kessa+County" in browser.current_url
    # The nav links carry the shared filters to the other pages.
    wait_for(
        lambda: "days=30" in browser.find_element("id", "nav-4").get_attribute("href"),
        what="nav links with the filters",
    )


def test_the_export_button_links_what_the_page_shows(browser, mission):
    sign_in(browser, mission, "viewer")
    browser.get(f"{mission.url}/ceasefire?days=30&region=Kessa+County&category=armed_clash")
    toggle = wait_for(
        lambda: browser.find_element("css selector", "#export-menu button"), what="the button"
    )
    toggle.click()
    link = wait_for(lambda: browser.find_element("id", "export-incidents-csv"), what="the links")
    href = link.get_attribute("href")
    assert "/dashboard/export/incidents.csv?date_from=" in href
    assert "region=Kessa+County" in href
    assert "category=armed_clash" in href
    shown = {a.get_attribute("id") for a in browser.find_elements("css selector", ".export-link")}
    assert {"export-incidents-geojson", "export-verifications-hxl"} <= shown
    # The browser's session cookie is enough to download it.
    text = browser.execute_script(
        "return fetch(arguments[0]).then(r => r.status + ' ' + r.headers.get('content-type'))",
        href,
    )
    assert text.startswith("200 text/csv")


def test_a_viewer_sees_no_confidential_incident(browser, mission):
    sign_in(browser, mission, "admin")
    browser.get(f"{mission.url}/ceasefire?days=7")
    wait_for(lambda: mission.secret_id in graphs(browser)["cf-map"]["ids"], what="admin's map")
    # Clicking a point opens the incident with its verification history.
    from selenium.webdriver.common.action_chains import ActionChains

    point = browser.find_elements("css selector", "#cf-map .scatterlayer .point")[-1]
    ActionChains(browser).move_to_element(point).pause(0.3).click().perform()
    wait_for(lambda: browser.find_element("id", "cf-detail-title"), what="the incident")
    assert "Verification history" in browser.find_element("id", "cf-detail").text

    sign_in(browser, mission, "viewer")
    browser.get(f"{mission.url}/")
    wait_for(lambda: browser.find_elements("css selector", ".feed-item"), what="the feed")
    assert "CONFIDENTIAL-SOURCE-NAMED" not in browser.page_source
    browser.get(f"{mission.url}/ceasefire?days=7")
    ids = wait_for(lambda: graphs(browser)["cf-map"]["ids"], what="viewer's map")
    assert mission.secret_id not in ids


def test_an_incident_posted_through_the_api_appears_on_the_open_overview(browser, mission):
    sign_in(browser, mission, "admin")
    browser.get(f"{mission.url}/")
    wait_for(lambda: browser.find_element("id", "live-status").text == "live", what="live")
    wait_for(lambda: browser.find_elements("css selector", ".feed-item"), what="the feed")
    # Once the page's first render is done (the headline figures are the slowest part of it).
    wait_for(lambda: browser.find_element("id", "ov-trust-value").text != "…", what="headlines")
    marker = f"LIVE-{uuid.uuid4().hex[:8]}"
    body = incident_body(
        occurred_at=datetime.now(UTC).isoformat(), description=f"{marker} posted by a patrol"
    )
    before = len(browser.find_elements("css selector", ".feed-item"))
    browser.execute_script(RECORD_FEED_ANSWERS_JS)
    status, created = post_json(f"{mission.url}{API}/incidents", body, mission.tokens["admin"])
    posted = time.monotonic()
    assert status == 201, created
    wait_for(
        lambda: marker in browser.find_element("id", "ov-feed").text,
        timeout=2,
        what="the new incident on the Overview feed",
    )
    print(f"incident on the page {1000 * (time.monotonic() - posted):.0f} ms after the POST")
    items = browser.find_elements("css selector", ".feed-item")
    assert marker in items[0].text  # on top
    assert len(items) == before  # and the oldest one gone
    assert "Armed clash · Tubmanburg" in items[0].text  # drawn with the server's words
    assert " UTC · " in items[0].text
    # The page drew it from the stream's notice: it asked the server nothing for the feed.
    assert browser.execute_script("return window.feedAnswers") == []
    assert console_errors(browser) == []


# Keeps the body of every callback answer that updates the Overview's feed.
RECORD_FEED_ANSWERS_JS = """
window.feedAnswers = [];
if (!window.fetchBeforeTest) {
  window.fetchBeforeTest = window.fetch;
  window.fetch = function (url, options) {
    return window.fetchBeforeTest(url, options).then(function (response) {
      if (String(url).indexOf('_dash-update-component') >= 0) {
        response.clone().text().then(function (text) {
          if (text.indexOf('ov-feed') >= 0) { window.feedAnswers.push(text); }
        });
      }
      return response;
    });
  };
}
"""

# Bytes over the wire of the page and everything it loaded (HTTP headers included), split into
# static files and the callbacks' answers (the data).
TRANSFER_JS = """
const all = performance.getEntriesByType('navigation').concat(
  performance.getEntriesByType('resource'));
const data = all.filter(e => e.name.indexOf('/_dash-update-component') >= 0);
const sum = list => list.reduce((n, e) => n + e.transferSize, 0);
return {static: sum(all) - sum(data), data: sum(data), names: all.map(e => e.name)};
"""


def test_the_first_load_is_under_1_mb_and_a_repeat_load_under_50_kb(browser, mission):
    """What Chromium fetches for the Overview, as a mission on a satellite link pays for it: the
    small plotly.js, best-ratio compression and a year's caching of fingerprinted files."""
    sign_in(browser, mission, "admin")
    browser.get(f"{mission.url}/")
    wait_for(lambda: _drawn(graphs(browser)), timeout=15, what="the Overview's charts")
    # The first visit after the server starts gets quick compression while the best is made.
    compressor = mission.server.app.state.dash.server.config[COMPRESSOR_KEY]
    wait_for(compressor.idle, timeout=60, what="the best-ratio compression")
    browser.execute_cdp_cmd("Network.clearBrowserCache", {})

    browser.get(f"{mission.url}/")
    wait_for(lambda: _drawn(graphs(browser)), timeout=15, what="the Overview's charts")
    first = browser.execute_script(TRANSFER_JS)
    browser.get(f"{mission.url}/")
    wait_for(lambda: _drawn(graphs(browser)), timeout=15, what="the Overview's charts")
    again = browser.execute_script(TRANSFER_JS)
    print(
        f"Overview transfer: first load {first['static']:,} B of files + {first['data']:,} B of "
        f"data; repeat load {again['static']:,} + {again['data']:,} B"
    )
    assert any("/assets/plotly-peacewatch.min.js" in n for n in first["names"])
    assert not any("package_data/plotly" in n for n in first["names"])  # not the full one
    assert not any("dash_ag_grid" in n for n in first["names"])  # no grid on the Overview
    assert first["static"] + first["data"] < 1_000_000
    assert again["static"] + again["data"] < 50_000


def test_the_overviews_first_reads_start_with_its_stream(browser, mission):
    """The page's head opens the live stream before any script comes; the server reads the
    headline figures and the feed meanwhile, and the page's first callbacks take those reads
    instead of asking the database again (dashboard/prefetch.py)."""
    prefetches = mission.server.app.state.dash.server.config[PREFETCH_KEY]
    sign_in(browser, mission, "admin")
    wait_for(lambda: _drawn(graphs(browser)), timeout=15, what="the Overview's charts")
    wait_for(lambda: browser.find_elements("css selector", "#ov-feed .feed-item"), what="feed")
    before = prefetches.taken
    browser.get(f"{mission.url}/?days=7")
    wait_for(lambda: _drawn(graphs(browser)), timeout=15, what="the Overview's charts")
    wait_for(lambda: browser.find_elements("css selector", "#ov-feed .feed-item"), what="feed")
    assert browser.find_element("id", "live-status").text == "live"
    assert prefetches.taken - before == 2  # the headline and the feed
    assert not console_errors(browser)


@pytest.mark.postgres
@pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL tests skipped: set PEACEWATCH_TEST_POSTGRES_URL"
)
def test_a_record_posted_to_one_server_process_reaches_a_dashboard_on_another(browser, tmp_path):
    """Two `peacewatch serve` processes on one PostgreSQL database, as behind a load balancer:
    the dashboard open on one shows, live, an incident posted to the other."""
    with postgres_database(POSTGRES_URL, "peacewatch_dash") as url:
        env = server_env(url, PEACEWATCH_DASHBOARD_SECRET_KEY="m" * 40)
        run_cli(env, "db", "upgrade", cwd=tmp_path)
        created = run_cli(env, "token", "create", "--name", "hq", "--role", "admin", cwd=tmp_path)
        token = created.stdout.strip().splitlines()[-1]
        ingest = Server.peacewatch(env, tmp_path, "ingest").start()
        wall = Server.peacewatch(env, tmp_path, "wall").start()
        try:
            wall_url = f"http://127.0.0.1:{wall.port}"
            browser.delete_all_cookies()
            browser.get(f"{wall_url}/signin?token={token}")
            wait_for(lambda: browser.find_element("id", "live-status").text == "live", what="live")
            wait_for(lambda: browser.find_elements("css selector", ".list-group-item"), what="feed")
            marker = f"OTHER-PROCESS-{uuid.uuid4().hex[:8]}"
            body = incident_body(
                occurred_at=datetime.now(UTC).isoformat(), description=f"{marker} via ingest"
            )
            status, _ = post_json(f"http://127.0.0.1:{ingest.port}{API}/incidents", body, token)
            posted = time.monotonic()
            assert status == 201
            wait_for(
                lambda: marker in browser.find_element("id", "ov-feed").text,
                timeout=2,
                what="the incident posted to the other process on this one's Overview",
            )
            print(f"on the other process's page {1000 * (time.monotonic() - posted):.0f} ms later")
            assert console_errors(browser) == []
        finally:
            browser.get("about:blank")  # the page's stream, before the servers stop
            wall.stop()
            ingest.stop()


def test_a_burst_of_incidents_leaves_the_overview_current_with_few_requests(browser, mission):
    """Thirty incidents at once: the page draws its feed from the stream, asking the server
    nothing for it, and ends showing the newest on top, each once."""
    sign_in(browser, mission, "admin")
    browser.get(f"{mission.url}/")
    wait_for(lambda: browser.find_element("id", "live-status").text == "live", what="live")
    wait_for(lambda: browser.find_element("id", "ov-trust-value").text != "…", what="headlines")
    size = len(browser.find_elements("css selector", ".feed-item"))
    browser.execute_script(RECORD_FEED_ANSWERS_JS)
    marker = f"BURST-{uuid.uuid4().hex[:6]}"
    for i in range(30):
        body = incident_body(
            occurred_at=datetime.now(UTC).isoformat(), description=f"{marker} #{i:02d}"
        )
        assert post_json(f"{mission.url}{API}/incidents", body, mission.tokens["admin"])[0] == 201
    wait_for(
        lambda: f"{marker} #29" in browser.find_elements("css selector", ".feed-item")[0].text,
        timeout=5,
        what="the last incident of the burst on top",
    )
    texts = [e.text for e in browser.find_elements("css selector", ".feed-item")]
    assert len(texts) == size
    assert len(set(texts)) == size  # no item twice
    shown = [t.split(marker + " #", 1)[1][:2] for t in texts if marker in t]
    assert shown == [f"{i:02d}" for i in range(29, 29 - size, -1)]  # the newest, newest first
    assert browser.execute_script("return window.feedAnswers") == []
    assert console_errors(browser) == []


# Keeps the data of every notice the page's live stream delivers.
RECORD_NOTICES_JS = """
window.heardNotices = [];
window.peacewatchLive.source.addEventListener('notice', function (e) {
  window.heardNotices.push(e.data);
});
"""


def test_a_viewers_stream_never_brings_a_confidential_incidents_feed_row(browser, mission):
    """The feed is drawn from the stream's notices: a viewer's page must never be sent the row
    of a confidential incident, nor anyone's reporter, while a restricted one shows at once."""
    sign_in(browser, mission, "viewer")
    browser.get(f"{mission.url}/")
    wait_for(lambda: browser.find_element("id", "live-status").text == "live", what="live")
    wait_for(lambda: browser.find_elements("css selector", ".feed-item"), what="the feed")
    browser.execute_script(RECORD_NOTICES_JS)
    secret, shown = f"SECRET-{uuid.uuid4().hex[:8]}", f"SHOWN-{uuid.uuid4().hex[:8]}"
    ids = {}
    for sensitivity, marker in (("confidential", secret), ("restricted", shown)):
        body = incident_body(
            occurred_at=datetime.now(UTC).isoformat(),
            sensitivity=sensitivity,
            description=f"{marker} from a patrol",
        )
        status, created = post_json(f"{mission.url}{API}/incidents", body, mission.tokens["admin"])
        assert status == 201, created
        ids[marker] = created["id"]
    # The restricted one, posted after, shows: the confidential one's notice would be there too.
    wait_for(
        lambda: shown in browser.find_element("id", "ov-feed").text,
        timeout=2,
        what="the restricted incident on the viewer's feed",
    )
    heard = [json.loads(n) for n in browser.execute_script("return window.heardNotices")]
    assert ids[secret] not in {n["id"] for n in heard}
    assert secret not in json.dumps(heard)
    assert secret not in browser.page_source
    (notice,) = [n for n in heard if n["id"] == ids[shown]]
    assert notice["summary"]["description"].startswith(shown)
    assert not ({"reported_by", "sensitivity"} & (set(notice) | set(notice["summary"])))
    assert "test-admin" not in json.dumps(heard)  # the reporter's name
    assert console_errors(browser) == []


def test_an_incident_made_confidential_leaves_a_viewers_open_feed(browser, mission):
    """A viewer saw a restricted incident; an analyst makes it confidential: it leaves the
    viewer's open Overview within 2 s, without reload, told by an id-only `withdraw` notice."""
    sign_in(browser, mission, "viewer")
    browser.get(f"{mission.url}/")
    wait_for(lambda: browser.find_element("id", "live-status").text == "live", what="live")
    wait_for(lambda: browser.find_elements("css selector", ".feed-item"), what="the feed")
    browser.execute_script(RECORD_NOTICES_JS)
    marker = f"RECLASSIFIED-{uuid.uuid4().hex[:8]}"
    body = incident_body(
        occurred_at=datetime.now(UTC).isoformat(),
        sensitivity="restricted",
        description=f"{marker} from a patrol",
    )
    status, created = post_json(f"{mission.url}{API}/incidents", body, mission.tokens["admin"])
    assert status == 201, created
    feed = lambda: browser.find_element("id", "ov-feed").text  # noqa: E731
    wait_for(lambda: marker in feed(), timeout=2, what="the restricted incident on the feed")
    url = f"{mission.url}{API}/incidents/{created['id']}"
    status, changed = post_json(
        url, {"sensitivity": "confidential"}, mission.tokens["admin"], "PATCH"
    )
    assert status == 200, changed
    wait_for(lambda: marker not in feed(), timeout=2, what="the incident gone from the feed")
    heard = [json.loads(n) for n in browser.execute_script("return window.heardNotices")]
    assert {"topic": "incident", "id": created["id"], "action": "withdraw"} in heard
    assert len(browser.find_elements("css selector", ".feed-item")) >= 1
    assert console_errors(browser) == []
