"""The dashboard's pure parts: figures from data (their data, not their pixels) and the filters
kept in the URL."""

from __future__ import annotations

import uuid
from datetime import date

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from dash import html, no_update

from backend.metrics.schemas import VerificationReport, WindowPublic
from backend.metrics.window import Interval, Window, bucket_starts
from dashboard import figures, filters
from dashboard.pages import overview


def _row(**over: object) -> dict:
    row = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-20T10:00:00+00:00",
        "received_at": "2026-11-20T11:00:00+00:00",
        "category": "armed_clash",
        "finding": "verified",
        "status": "closed",
        "latitude": 7.0,
        "longitude": -10.0,
        "location_name": "Dalo",
        "admin1": "Upper Dalo",
        "fatalities": 0,
        "injuries": 0,
        "alleged_party_id": None,
        "target_party_id": None,
        "sensitivity": "public",
        "description": "",
    }
    row.update(over)
    return row


def test_the_map_colours_by_finding_sizes_by_fatalities_and_carries_ids():
    rows = [
        _row(finding="verified", fatalities=9),
        _row(finding="refuted", fatalities=0, latitude=7.5),
        _row(finding="verified", fatalities=0, longitude=-9.5),
    ]
    fig = figures.incident_map(rows, colour_by="finding")
    points = [t for t in fig.data if t.mode == "markers"]
    by_name = {t.name: t for t in points}
    assert set(by_name) == {"Verified", "Refuted"}
    verified = by_name["Verified"]
    assert list(verified.customdata) == [rows[0]["id"], rows[2]["id"]]
    assert verified.marker.color == figures.FINDING_COLOURS["verified"]
    assert verified.marker.size[0] > verified.marker.size[1]  # 9 killed draws bigger than none
    outlines = [t for t in fig.data if t.mode == "lines"]
    assert [t.name for t in outlines] == ["Upper Dalo"]  # the region's outline, no tiles
    assert fig.layout.yaxis.scaleanchor == "x"


def test_the_map_uses_tiles_only_when_a_tile_url_is_set():
    fig = figures.incident_map([_row()], tile_url="http://tiles.local/{z}/{x}/{y}.png")
    assert fig.data[0].type == "scattermap"
    assert fig.layout.map.style["sources"]["t"]["tiles"] == ["http://tiles.local/{z}/{x}/{y}.png"]


def test_the_timeline_counts_incidents_per_step_and_group():
    rows = [
        _row(occurred_at="2026-11-02T10:00:00+00:00", category="shelling"),
        _row(occurred_at="2026-11-03T10:00:00+00:00", category="shelling"),
        _row(occurred_at="2026-11-10T10:00:00+00:00", category="abduction"),
    ]
    starts = bucket_starts(Window(date(2026, 11, 2), date(2026, 11, 15), interval=Interval.week))
    fig = figures.incident_timeline(
        rows, group_by="category", interval=Interval.week, starts=starts
    )
    counts = {t.name: list(t.y) for t in fig.data}
    assert counts == {"Shelling": [2, 0], "Abduction": [0, 1]}


def test_every_figure_is_drawn_on_the_white_template():
    # Set once as plotly's default (`figures.TEMPLATE`), not named in each figure.
    white = pio.templates["plotly_white"].to_plotly_json()
    for fig in (figures.queue_by_age([0.5, 2]), figures.empty(), go.Figure()):
        assert fig.to_plotly_json()["layout"]["template"] == white


def test_the_queue_is_binned_by_age():
    fig = figures.queue_by_age([0.5, 2, 2.5, 40])
    assert dict(zip(fig.data[0].x, fig.data[0].y, strict=True)) == {
        "< 1 day": 1,
        "1-3 days": 2,
        "3-7 days": 0,
        "1-2 weeks": 0,
        "2-4 weeks": 0,
        "> 4 weeks": 1,
    }


def test_the_funnel_narrows_from_reported_to_verified():
    window = WindowPublic(
        date_from=date(2026, 1, 1),
        date_to=date(2026, 1, 31),
        days=31,
        region=None,
        party_id=None,
        interval=Interval.day,
        incidents_counted="all",
    )
    report = VerificationReport(
        window=window,
        incidents=10,
        by_status={"received": 3, "in_review": 2, "closed": 5},
        by_finding={"unverified": 6, "verified": 4},
        queue_total=5,
        queue_oldest=[],
        verified_count=4,
        median_days_to_verify=2.0,
        p90_days_to_verify=6.0,
    )
    assert list(figures.verification_funnel(report).data[0].x) == [10, 7, 5, 4]


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (12, 10, ("+2 (+20%)", "up")),
        (5, 10, ("-5 (-50%)", "down")),
        (3, 3, ("no change", "flat")),
        (3, None, ("no earlier figure", "flat")),
        (4, 0, ("+4", "up")),
    ],
)
def test_change_against_the_previous_period(current, previous, expected):
    assert figures.change(current, previous) == expected


def test_the_hull_of_a_square_and_its_inside_point():
    hull = figures.convex_hull([(0, 0), (1, 0), (1, 1), (0, 1), (0.5, 0.5)])
    assert set(hull) == {(0, 0), (1, 0), (1, 1), (0, 1)}
    assert hull[0] == hull[-1]


def test_filters_round_trip_through_the_query_string():
    party = uuid.uuid4()
    query = f"?days=30&region=Kessa+County&party={party}&category=shelling"
    view = filters.parse(query)
    assert (view.days, view.region, view.party_id) == (30, "Kessa County", party)
    assert view.extra == {"category": "shelling"}
    assert filters.parse(filters.to_query(view)) == view
    assert view.interval is Interval.day
    assert filters.parse("?days=365").interval is Interval.month


def test_bad_filter_values_fall_back_to_defaults():
    view = filters.parse("?days=13&party=not-a-uuid")
    assert (view.days, view.party_id) == (filters.DEFAULT_DAYS, None)
    assert filters.with_values("?days=30&region=X", region=None) == "?days=30"


# The live feed's rows, as the stream's notices carry them (backend/notices/summary.py)


def _values(**over: object) -> dict:
    from backend.notices.summary import FIELDS

    values: dict[str, object] = dict.fromkeys(FIELDS)
    values.update({"id": uuid.uuid4(), "description": "", "fatalities": 0, **over})
    return values


def test_feed_rows_sort_by_their_text_as_by_their_time():
    """assets/live.js orders the feed by comparing `received_at` as text: one fixed UTC format,
    whatever the offset or the microseconds, keeps that the order of time."""
    from datetime import UTC, datetime, timedelta, timezone

    from backend.notices.summary import incident_summary

    base = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    times = [
        base,  # no microseconds: isoformat would drop them and sort wrongly
        base + timedelta(microseconds=1),
        (base + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5))),
        base + timedelta(hours=1, microseconds=500),
    ]
    texts = [incident_summary(_values(received_at=t, occurred_at=t))["received_at"] for t in times]
    assert texts == sorted(texts)
    assert texts[0] == "2026-11-26T09:00:00.000000Z"
    assert texts[2] == "2026-11-26T09:00:01.000000Z"  # in UTC, whatever offset it came with


def test_a_feed_row_holds_plain_values_and_only_what_the_feed_shows():
    from backend.notices.summary import FIELDS, incident_summary
    from backend.vocab import Finding, IncidentCategory

    party = uuid.uuid4()
    summary = incident_summary(
        _values(
            category=IncidentCategory.shelling,
            finding=Finding.verified,
            alleged_party_id=party,
            description="d" * 300,
            reported_by="patrol-7",
            sensitivity="restricted",
        )
    )
    assert summary is not None
    assert set(summary) == set(FIELDS)  # no reporter, no sensitivity
    assert (summary["category"], summary["finding"]) == ("shelling", "verified")
    assert summary["alleged_party_id"] == str(party)
    assert summary["description"] == "d" * 120
    assert (summary["location_name"], summary["admin1"]) == ("", "")
    values = _values()
    del values["received_at"]  # not loaded: the page reads the feed from the server instead
    assert incident_summary(values) is None


def test_the_partial_plotly_bundle_draws_every_trace_type_the_figures_use():
    """dashboard/assets/plotly-peacewatch.min.js holds only some trace types: a figure drawing
    another would show an empty box in the browser. `scattermap` is drawn only with a tile server,
    when the dashboard loads the full plotly.js instead."""
    import re
    from pathlib import Path

    from plotly.offline import get_plotlyjs_version

    import dashboard

    root = Path(dashboard.__file__).parent
    bundle = (root / "assets" / "plotly-peacewatch.min.js").read_text()[:300]
    banner = re.match(r"/\*! plotly\.js v([\d.]+) \(partial: ([a-z, ]+)\)", bundle)
    assert banner, bundle[:200]
    assert banner.group(1) == get_plotlyjs_version()  # the version plotly.py draws for
    in_bundle = set(banner.group(2).split(", "))
    used = {t.lower() for t in re.findall(r"go\.([A-Z]\w+)\(", (root / "figures.py").read_text())}
    assert used - {"figure"} - {"scattermap"} <= in_bundle, used


def test_sessions_asking_for_the_same_view_at_once_share_one_computation():
    import threading
    import time

    from dashboard.shared import SharedReads

    reads = SharedReads(fresh_s=0.3)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.1)
        return len(calls)

    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(reads.get("k", compute))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [1] * 8  # twenty screens, one read
    assert reads.get("other view", compute) == 2  # another view is its own read
    time.sleep(0.35)
    assert reads.get("k", compute) == 3  # a read begun too long ago is not reused


def test_a_read_named_by_its_beat_serves_a_late_asker_too():
    """The Overview's pages name the beat they ask on: a page whose request comes a second late
    on a loaded machine gets that beat's read, not a computation of its own."""
    import time

    from dashboard.shared import SharedReads

    reads = SharedReads(fresh_s=0.05)
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert reads.get(("headline", 3000), compute, fresh_s=5) == 1
    time.sleep(0.1)  # past the default freshness
    assert reads.get(("headline", 3000), compute, fresh_s=5) == 1
    assert reads.get(("headline", 6000), compute, fresh_s=5) == 2  # the next beat reads again
    assert reads.get("plain", compute) == 3
    time.sleep(0.1)
    assert reads.get("plain", compute) == 4  # the default freshness still holds for others


def test_a_failed_shared_read_is_not_reused():
    from dashboard.shared import SharedReads

    reads = SharedReads(fresh_s=10)

    def broken():
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        reads.get("k", broken)
    assert reads.get("k", lambda: "ok") == "ok"


def _headline(alerts: str, npfl: float = 64.0) -> tuple:
    """The Overview's headline values as `headline` returns them: figures, then the compliance
    chart and the alerts."""
    chart = go.Figure(go.Bar(x=["GOV", "NPFL"], y=[81.0, npfl]))
    return ("12", "vs previous period: +20%", "kpi-change small", chart, [html.P(alerts)])


def test_the_overview_redraws_its_chart_only_when_the_chart_changed():
    """In a burst the alerts change at every beat and the compliance chart seldom: sent along
    with the alerts, the same chart was drawn again in every open page."""
    *_, chart1, alerts1, drawn1 = overview._with_digest(_headline("Spike in Bomi: 40 incidents"))
    *_, chart2, alerts2, drawn2 = overview._with_digest(_headline("Spike in Bomi: 90 incidents"))
    assert drawn1["figure"] == drawn2["figure"]
    assert drawn1["alerts"] != drawn2["alerts"]
    assert chart2["data"][0]["y"] == [81.0, 64.0]  # plain JSON, encoded once for every page
    # A page that drew the first answer gets the new alerts; its chart is left alone.
    assert overview.to_draw(chart2, alerts2, drawn2, drawn1) == (no_update, alerts2, drawn2)
    # Nothing new: nothing sent.
    assert overview.to_draw(chart2, alerts2, drawn2, drawn2) == (no_update,) * 3
    # A page that has drawn nothing yet gets both.
    assert overview.to_draw(chart1, alerts1, drawn1, None) == (chart1, alerts1, drawn1)
    # A party's compliance moved: the chart comes, the same alerts do not.
    *_, chart3, _, drawn3 = overview._with_digest(_headline("Spike in Bomi: 90 incidents", 52.0))
    assert drawn3["figure"] != drawn2["figure"]
    assert overview.to_draw(chart3, alerts2, drawn3, drawn2) == (chart3, no_update, drawn3)
