// Live updates: one EventSource on the dashboard's stream, opened once, for the page's life.
// Each notice bumps the dcc.Store of its topic family; the page callbacks that listen to that
// store re-read what they show (a re-read makes the last value win). In a burst a store is bumped
// at most every MIN_GAP_MS, and never while a callback it triggered is still waiting for the
// server: notices that come meanwhile make one bump when it answers. So a page asks only as fast
// as the server answers, however fast records come, and each answer shows the latest.
// If the stream drops, the browser reconnects by itself; meanwhile, and once it is back, every
// store is bumped so nothing missed stays missed (the slow safety-net poll).
(function () {
    "use strict";
    var STORES = {
        incident: "live-incident",
        verification_event: "live-incident",
        ddr_milestone: "live-ddr",
        ddr_target: "live-ddr",
        track_activity: "live-tracks",
        agreement: "live-agreements",
        commitment: "live-agreements",
        commitment_progress: "live-agreements",
        party: "live-agreements",
    };
    var ALL = ["live-incident", "live-ddr", "live-tracks", "live-agreements", "live-summary"];
    var MIN_GAP_MS = 250;
    // Headline figures read every measure: they follow any notice, but a moment later, and in a
    // long burst at most every SUMMARY_GAP_MS, so that the light updates (the feed, the map)
    // are not queued behind them.
    var SUMMARY_DELAY_MS = 700;
    var SUMMARY_GAP_MS = 3000;
    var summaryTimer = null;
    var lastSummary = 0;
    var lastBump = {};  // store -> when it was last bumped
    var waiting = {};  // store -> the latest notice not yet passed on
    var timers = {};  // store -> the timer of its next bump
    var busy = {};  // store -> callback requests in flight that read it
    var POLL_MS = 60000;
    var RETRY_MS = 10000;
    var seq = 0;

    function bump(store, notice) {
        seq += 1;
        window.dash_clientside.set_props(store, {
            data: { seq: seq, at: Date.now(), notice: notice || null },
        });
    }

    function bumpSoon(store, notice) {
        waiting[store] = notice;  // a bump already planned carries the latest
        release(store);
    }

    function release(store) {
        if (!(store in waiting) || busy[store] > 0 || timers[store]) {
            return;
        }
        var wait = (lastBump[store] || 0) + MIN_GAP_MS - Date.now();
        if (wait > 0) {
            timers[store] = window.setTimeout(function () {
                timers[store] = null;
                release(store);
            }, wait);
            return;
        }
        var latest = waiting[store];
        delete waiting[store];
        lastBump[store] = Date.now();
        bump(store, latest);
    }

    // Counts, per store, the callback requests in flight that read it (Dash sends each as a
    // fetch to _dash-update-component naming its inputs), and releases a held bump as they end.
    function watchCallbacks() {
        var original = window.fetch;
        window.fetch = function (url, options) {
            var body = options && typeof options.body === "string" ? options.body : "";
            var promise = original.apply(this, arguments);
            if (String(url).indexOf("_dash-update-component") < 0) {
                return promise;
            }
            var reads = ALL.filter(function (s) { return body.indexOf('"' + s + '"') >= 0; });
            reads.forEach(function (s) { busy[s] = (busy[s] || 0) + 1; });
            var done = function () {
                reads.forEach(function (s) {
                    busy[s] -= 1;
                    release(s);
                });
            };
            promise.then(done, done);
            return promise;
        };
    }

    function status(text, colour) {
        window.dash_clientside.set_props("live-status", { children: text, color: colour });
    }

    function onNotice(event) {
        var notice = JSON.parse(event.data);
        window.peacewatchLive.notices += 1;
        window.peacewatchLive.lastNoticeAt = Date.now();
        var store = STORES[notice.topic];
        if (store) {
            bumpSoon(store, notice);
        }
        if (summaryTimer === null) {
            var gap = lastSummary + SUMMARY_GAP_MS - Date.now();
            summaryTimer = window.setTimeout(function () {
                summaryTimer = null;
                lastSummary = Date.now();
                bumpSoon("live-summary", null);
            }, Math.max(SUMMARY_DELAY_MS, gap));
        }
    }

    function open() {
        var live = window.peacewatchLive;
        var source = new EventSource("/dashboard/stream");
        live.source = source;
        source.onopen = function () {
            status("live", "success");
            if (live.dropped) {
                ALL.forEach(function (s) { bump(s, null); });
                live.dropped = false;
            }
        };
        source.onerror = function () {
            live.dropped = true;
            if (source.readyState !== EventSource.CLOSED) {
                status("reconnecting…", "warning");  // the browser retries by itself
                return;
            }
            // Refused (an HTTP error, not a lost connection): signed out, or the server is
            // restarting. Signed out goes to the sign-in page; otherwise try again shortly.
            status("offline", "danger");
            fetch("/_dash-layout", { credentials: "same-origin" }).then(function (r) {
                if (r.status === 401) {
                    var here = window.location.pathname + window.location.search;
                    window.location.assign("/signin?next=" + encodeURIComponent(here));
                } else {
                    window.setTimeout(open, RETRY_MS);
                }
            }, function () { window.setTimeout(open, RETRY_MS); });
        };
        source.addEventListener("notice", onNotice);
    }

    function start() {
        if (window.peacewatchLive) {
            return window.dash_clientside.no_update;
        }
        window.peacewatchLive = { source: null, notices: 0, dropped: false, busy: busy };
        watchCallbacks();
        open();
        // A browser keeps at most 6 connections to a host (HTTP/1.1): close this one as the page
        // goes, or pages left in the back-forward cache hold theirs and starve the next page.
        window.addEventListener("pagehide", function () { window.peacewatchLive.source.close(); });
        window.addEventListener("pageshow", function (event) {
            if (event.persisted) { window.location.reload(); }  // back from that cache: reopen
        });
        window.setInterval(function () {
            if (window.peacewatchLive.source.readyState !== EventSource.OPEN) {
                ALL.forEach(function (s) { bump(s, null); });
            }
        }, POLL_MS);
        return window.dash_clientside.no_update;
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        peacewatch: { startLive: start },
    });
})();
