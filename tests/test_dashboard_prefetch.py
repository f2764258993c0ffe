"""The Overview's reads started by its page's stream (dashboard/prefetch.py): each page takes its
own once, for the filters it opened with, read as its reader in the dashboard's app context."""

from __future__ import annotations

import threading

import flask

from backend.auth.service import Principal
from backend.vocab import Role
from dashboard import prefetch
from dashboard.prefetch import Prefetches

VIEWER = Principal(name="wall-screen", role=Role.viewer)
ANALYST = Principal(name="analyst-1", role=Role.analyst)


def _prefetches(gate: threading.Event | None = None) -> tuple[Prefetches, list]:
    server = flask.Flask("test")
    calls: list = []

    def read(query: str) -> tuple:
        if gate is not None:
            gate.wait(5)
        calls.append((query, flask.g.principal, flask.current_app.name))
        return ("headline for", query)

    return Prefetches(server, {"headline": read}), calls


def test_a_page_takes_its_read_once_as_its_reader():
    prefetches, calls = _prefetches()
    assert prefetches.start("page-1", VIEWER, "/", "?days=7&zz=")
    assert prefetches.take("page-1", "headline", "?days=7", VIEWER) == ("headline for", "?days=7")
    assert calls == [("?days=7", VIEWER, "test")]  # the filters as the page's store holds them
    assert prefetches.take("page-1", "headline", "?days=7", VIEWER) is None  # once: then read anew
    assert prefetches.taken == 1


def test_a_read_for_other_filters_or_another_page_is_not_given():
    prefetches, _ = _prefetches()
    prefetches.start("page-1", VIEWER, "/", "")
    assert prefetches.take("page-2", "headline", "", VIEWER) is None
    assert (
        prefetches.take(None, "headline", "", VIEWER) is None
    )  # a page that opened no early stream
    assert (
        prefetches.take("page-1", "headline", "?days=7", VIEWER) is None
    )  # filters changed meanwhile
    assert prefetches.taken == 0


def test_a_read_is_given_only_to_the_reader_it_was_made_for():
    prefetches, _ = _prefetches()
    prefetches.start("page-1", VIEWER, "/", "")
    assert prefetches.take("page-1", "headline", "", ANALYST) is None  # knows the id: not enough
    assert prefetches.take("page-1", "headline", "", VIEWER) == ("headline for", "")


def test_a_reconnecting_stream_or_another_page_starts_nothing():
    prefetches, calls = _prefetches()
    assert not prefetches.start("page-1", VIEWER, "/ceasefire", "")
    assert prefetches.start("page-2", VIEWER, "/", "")
    prefetches.take("page-2", "headline", "", VIEWER)
    assert not prefetches.start("page-2", VIEWER, "/", "")  # the same page, its stream again
    assert len(calls) == 1


def test_a_busy_server_starts_no_more_than_a_few_reads():
    gate = threading.Event()
    prefetches, calls = _prefetches(gate)
    assert not calls
    started = [prefetches.start(f"page-{n}", VIEWER, "/", "") for n in range(20)]
    assert sum(started) == prefetch.MOST_PENDING  # one read a page here
    gate.set()
    assert prefetches.take("page-0", "headline", "", VIEWER) == ("headline for", "")
    assert prefetches.take("page-19", "headline", "", VIEWER) is None  # reads through Dash instead
