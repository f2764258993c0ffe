"""The dashboard's pure parts: figures from data (their data, not their pixels) and the filters
kept in the URL."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from backend.metrics.schemas import VerificationReport, WindowPublic
from backend.metrics.window import Interval, Window, bucket_starts
from dashboard import figures, filters


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


# The live feed's partial updates


def _keys(*items: str) -> list[list[str]]:
    """`"a"` is item a as first shown, `"a*"` item a after a change."""
    return [[i.rstrip("*"), i] for i in items]


@pytest.mark.parametrize(
    ("shown", "latest", "expected"),
    [
        (_keys("c", "b", "a"), _keys("d", "c", "b"), (1, 1, [])),  # one new on top, a drops
        (_keys("c", "b", "a"), _keys("f", "e", "d"), (3, 3, [])),  # a burst pushes all out
        (_keys("c", "b"), _keys("d", "c", "b"), (1, 0, [])),  # the feed was not full yet
        (_keys("c", "b", "a"), _keys("c", "b*", "a"), (0, 0, [1])),  # b was verified
        (_keys("c", "b", "a"), _keys("d", "c*", "b"), (1, 1, [1])),
        (_keys("c", "b", "a"), _keys("c", "b", "a"), (0, 0, [])),  # nothing to send
        (_keys("c", "b", "a"), _keys("c", "b"), (0, 1, [])),  # a went away at the bottom
        (_keys("c", "b", "a"), _keys("c", "a"), None),  # b went away: redraw
        (_keys("c", "b", "a"), _keys("b", "c", "a"), None),  # reordered: redraw
        ([], _keys("a"), None),  # nothing shown yet: draw
    ],
)
def test_the_feed_is_updated_in_part_when_new_items_come_on_top(shown, latest, expected):
    from dashboard.pages.overview import feed_changes

    assert feed_changes(shown, latest) == expected


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


def test_a_failed_shared_read_is_not_reused():
    from dashboard.shared import SharedReads

    reads = SharedReads(fresh_s=10)

    def broken():
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        reads.get("k", broken)
    assert reads.get("k", lambda: "ok") == "ok"
