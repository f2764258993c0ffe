// Live updates: one EventSource on the dashboard's stream, opened once, for the page's life.
// Each notice bumps the dcc.Store of its topic family; the page callbacks that listen to that
// store re-read what they show (a re-read makes the last value win). In a burst a store is bumped
// at most every MIN_GAP_MS, and never while a callback it triggered is still waiting for the
// server: notices that come meanwhile make one bump when it answers. So a page asks only as fast
// as the server answers, however fast records come, and each answer shows the latest.
// If the stream drops, the browser reconnects by itself; meanwhile, and once it is back, every
// store is bumped so nothing missed stays missed (the slow safety-net poll).
// The Overview's live feed is drawn here, in the page, from the notices themselves: the
// dashboard's stream puts in each incident notice what the feed shows of it (its `summary`),
// so an open Overview asks the server for the feed only on a visit, a filter change, a dropped
// stream, or a notice it cannot draw (see FEED below and dashboard/pages/overview.py).
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
    var WATCHED = ALL.concat(["ov-feed-ask"]);  // stores whose callback requests are counted
    var MIN_GAP_MS = 250;
    // Headline figures read every measure: they follow any notice, but a moment later (at
    // least SUMMARY_DELAY_MS, at most that plus SUMMARY_GAP_MS), and in a long burst at most
    // every SUMMARY_GAP_MS, so that the light updates (the feed, the map) are not queued behind
    // them.
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

    // Which callbacks read each of the shell's stores, by the ids of what they draw: a store is
    // bumped only while one of those is on the page (a store no callback of this page reads
    // would make Dash do work for nothing, 4 times a second per page in a burst).
    var readers = null;  // store -> [[output id, ...] per callback]; null until known

    function learnReaders() {
        fetch("/_dash-dependencies", { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.json() : null; })
            .then(function (deps) {
                if (!deps) { return; }
                var found = {};
                deps.forEach(function (cb) {
                    // "id.prop" or "..id.prop...id.prop..": the ids of what it draws
                    var outputs = String(cb.output).replace(/^\.\.|\.\.$/g, "").split("...")
                        .map(function (o) { return o.slice(0, o.lastIndexOf(".")); });
                    (cb.inputs || []).forEach(function (input) {
                        if (ALL.indexOf(input.id) >= 0) {
                            (found[input.id] = found[input.id] || []).push(outputs);
                        }
                    });
                });
                readers = found;
            })
            .catch(function () { /* unknown: every store is bumped */ });
    }

    function read(store) {
        if (readers === null || ALL.indexOf(store) < 0) { return true; }
        return (readers[store] || []).some(function (outputs) {
            return outputs.some(function (id) { return document.getElementById(id) !== null; });
        });
    }

    function bump(store, notice) {
        if (!read(store)) { return; }
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

    // Libraries the server left out of the page (dashboard/app.py LAZY_LIBRARIES): namespace ->
    // the address of its script, loaded before Dash gets an answer that holds its components.
    var LAZY = window.peacewatchLazy || {};
    var loading = {};  // namespace -> the promise of its script

    function loadLibrary(namespace) {
        if (!loading[namespace]) {
            loading[namespace] = new Promise(function (resolve, reject) {
                var script = document.createElement("script");
                script.src = LAZY[namespace];
                script.onload = resolve;
                script.onerror = function () {
                    delete loading[namespace];  // the next answer that needs it tries again
                    reject(new Error("could not load " + LAZY[namespace]));
                };
                document.head.appendChild(script);
            });
        }
        return loading[namespace];
    }

    // The answer, once the scripts of the lazily loaded components it holds are in the page.
    function withLibraries(response) {
        var missing = Object.keys(LAZY).filter(function (ns) { return !window[ns]; });
        if (!missing.length || !response.ok) { return response; }
        return response.clone().text().then(function (text) {
            var needed = missing.filter(function (ns) {
                return new RegExp('"namespace":\\s*"' + ns + '"').test(text);
            });
            return Promise.all(needed.map(loadLibrary)).then(function () { return response; });
        });
    }

    // Counts, per store, the callback requests in flight that read it (Dash sends each as a
    // fetch to _dash-update-component naming its inputs), and releases a held bump as they end.
    // Also holds back an answer until the lazily loaded libraries it needs are there.
    function watchCallbacks() {
        var original = window.fetch;
        window.fetch = function (url, options) {
            var body = options && typeof options.body === "string" ? options.body : "";
            var promise = original.apply(this, arguments);
            if (String(url).indexOf("_dash-update-component") < 0) {
                return promise;
            }
            promise = promise.then(withLibraries);
            var reads = WATCHED.filter(function (s) { return body.indexOf('"' + s + '"') >= 0; });
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

    // --- the Overview's live feed --------------------------------------------------------------
    var FEED = {
        data: null,  // the server's last read: {rows, codes, view, size, labels, asked_at}
        rows: [],  // what the feed shows, newest received first
        heard: [],  // [{at, row}]: summaries heard lately, to add to a read that may lack them
        timer: null,
        lastDraw: 0,
        retries: 0,
    };
    var FEED_ASK = "ov-feed-ask";
    var HEARD_KEEP_MS = 120000;
    var DRAW_GAP_MS = 100;  // in a burst, the feed is drawn at most this often

    function feedOnPage() {
        return document.getElementById("ov-feed") !== null;
    }

    // The server's order (dashboard/data.py latest_incidents): received_at desc, then id desc;
    // the times are in one fixed UTC format (backend/notices/summary.py), so text compares as time.
    function newestFirst(a, b) {
        if (a.received_at !== b.received_at) { return a.received_at < b.received_at ? 1 : -1; }
        return a.id < b.id ? 1 : (a.id > b.id ? -1 : 0);
    }

    // The filter the server's read applies (dashboard/data.py feed_view).
    function inView(view, row) {
        return (!view.region || row.admin1 === view.region) &&
            (!view.party_id || row.alleged_party_id === view.party_id ||
             row.target_party_id === view.party_id);
    }

    // rows with `row` in its place (replacing an older version of it), at most `size`.
    function placed(rows, row, size) {
        var out = rows.filter(function (r) { return r.id !== row.id; });
        out.push(row);
        out.sort(newestFirst);
        return out.slice(0, size);
    }

    function label(value) {
        var labels = (FEED.data && FEED.data.labels) || {};
        return labels[value] || (value ? String(value).replace(/_/g, " ") : "—");
    }

    function element(tag, className, text) {
        var el = document.createElement(tag);
        if (className) { el.className = className; }
        if (text !== undefined) { el.textContent = text; }  // text, never markup
        return el;
    }

    // One line of the feed (the look dbc.ListGroupItem gave it when the server drew it).
    function feedItem(row, codes) {
        var place = row.location_name || row.admin1 || "unknown place";
        var party = (row.alleged_party_id && codes[row.alleged_party_id]) || "no party named";
        var item = element("li", "list-group-item feed-item");
        item.id = "feed-item-" + row.id;
        var head = element("div");
        head.appendChild(element("strong", "", label(row.category)));
        head.appendChild(element("span", "", " · " + place));
        head.appendChild(element("span", "badge bg-light text-dark ms-2", label(row.finding)));
        item.appendChild(head);
        item.appendChild(element("div", "small text-secondary",
            row.occurred_at.slice(0, 16).replace("T", " ") + " UTC · " + party + " · " +
            row.fatalities + " killed · " + row.description));
        return item;
    }

    // The feed is drawn straight into its list (an html.Ul that Dash gives no children, so
    // React never redraws it): at 200 notices a second, twenty pages going through Dash's
    // renderer for each redraw took more of the two cores than the server had left.
    // A line is drawn again only when its row changed; the others move as they are.
    function drawFeed() {
        FEED.timer = null;
        var list = document.getElementById("ov-feed");
        if (FEED.data && !list && FEED.retries > 0) {  // a new page not in the document yet
            FEED.retries -= 1;
            FEED.timer = window.setTimeout(drawFeed, 50);
            return;
        }
        if (!FEED.data || !list) { return; }
        FEED.lastDraw = Date.now();
        var codes = FEED.data.codes || {};
        var old = {};
        Array.prototype.forEach.call(list.children, function (el) {
            if (el.peacewatchRow) { old[el.id] = el; }
        });
        var items = FEED.rows.map(function (row) {
            var key = JSON.stringify(row);
            var el = old["feed-item-" + row.id];
            if (!el || el.peacewatchRow !== key) {
                el = feedItem(row, codes);
                el.peacewatchRow = key;
            }
            return el;
        });
        if (!items.length) {
            items = [element("li", "list-group-item", "No incident reported yet.")];
        }
        list.replaceChildren.apply(list, items);
    }

    function drawFeedSoon() {
        if (FEED.timer) { return; }
        var wait = FEED.lastDraw + DRAW_GAP_MS - Date.now();
        if (wait <= 0) { drawFeed(); } else { FEED.timer = window.setTimeout(drawFeed, wait); }
    }

    // Ask the server to read the feed again (held while a read is in flight, as for the stores).
    function askFeedSoon() {
        if (feedOnPage()) { bumpSoon(FEED_ASK, null); }
    }

    // An incident notice: its summary goes into the feed, or, if it brought none (a set-based
    // import, a very large notice), the page asks the server for the feed.
    function feedHeard(notice) {
        if (notice.action === "withdraw") {  // made more secret than this reader may see
            FEED.heard = FEED.heard.filter(function (h) { return h.row.id !== notice.id; });
            if (FEED.rows.some(function (r) { return r.id === notice.id; })) {
                FEED.rows = FEED.rows.filter(function (r) { return r.id !== notice.id; });
                askFeedSoon();  // the next one down is unknown here
                drawFeedSoon();
            }
            return;
        }
        var row = notice.summary;
        if (!row) { askFeedSoon(); return; }
        var now = Date.now();
        FEED.heard.push({ at: now, row: row });
        while (FEED.heard.length && FEED.heard[0].at < now - HEARD_KEEP_MS) { FEED.heard.shift(); }
        if (!FEED.data) { return; }  // no read yet: the read, when it comes, adds this one
        var view = FEED.data.view || {};
        if (inView(view, row)) {
            FEED.rows = placed(FEED.rows, row, FEED.data.size);
            if (row.alleged_party_id && !(row.alleged_party_id in (FEED.data.codes || {}))) {
                askFeedSoon();  // a party this page has no code for yet
            }
        } else if (FEED.rows.some(function (r) { return r.id === row.id; })) {
            // It left the view (its region or party changed): the next one down is unknown here.
            FEED.rows = FEED.rows.filter(function (r) { return r.id !== row.id; });
            askFeedSoon();
        } else {
            return;
        }
        drawFeedSoon();
    }

    // The clientside callbacks of the Overview's feed (dashboard/pages/overview.py).
    function askFeed() {
        seq += 1;
        return { seq: seq, at: Date.now(), notice: null };
    }

    // The server's read, merged with what was heard since the page asked for it (committed
    // perhaps after the read began); what was heard before the ask is in the read already.
    function feedFromServer(data) {
        if (!data) { return window.dash_clientside.no_update; }
        FEED.data = data;
        var rows = data.rows.slice();
        var since = data.asked_at || 0;
        FEED.heard.forEach(function (h) {
            if (h.at >= since && inView(data.view || {}, h.row)) {
                rows = placed(rows, h.row, data.size);
            }
        });
        FEED.rows = rows;
        if (FEED.timer) { window.clearTimeout(FEED.timer); FEED.timer = null; }
        // After this callback, once Dash has put a newly rendered page's list in the document.
        FEED.retries = 40;
        FEED.timer = window.setTimeout(drawFeed, 0);
        return { rows: rows.length, at: Date.now() };
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
        if (notice.topic === "incident") {
            feedHeard(notice);
        }
        if (summaryTimer === null) {
            var now = Date.now();
            var at = Math.max(now + SUMMARY_DELAY_MS, lastSummary + SUMMARY_GAP_MS);
            // On the clock's beat: every open page that heard the notice asks at the same
            // moment, so the server computes the headline once for all of them
            // (dashboard/shared.py); pages that asked at their own moments made it compute
            // again and again, and that took the server's CPU from the posts.
            at = Math.ceil(at / SUMMARY_GAP_MS) * SUMMARY_GAP_MS;
            summaryTimer = window.setTimeout(function () {
                summaryTimer = null;
                lastSummary = Date.now();
                // The beat names the computation to share (dashboard/pages/overview.py), even
                // for a page whose request comes late.
                bumpSoon("live-summary", { beat: at });
            }, at - now);
        }
    }

    function open() {
        listen(new EventSource("/dashboard/stream"));
    }

    // The stream the page's head opened before any script came (dashboard/app.py), with the
    // notices it kept meanwhile; a stream it could not open is opened again here.
    function adopt(early) {
        if (!early || !early.source || early.source.readyState === EventSource.CLOSED) {
            open();
            return;
        }
        early.source.removeEventListener("notice", early.keep);
        window.peacewatchLive.dropped = Boolean(early.dropped);  // read again once it is back
        listen(early.source);
        if (early.source.readyState === EventSource.OPEN) { status("live", "success"); }
        early.notices.splice(0).forEach(onNotice);
    }

    function listen(source) {
        var live = window.peacewatchLive;
        live.source = source;
        source.onopen = function () {
            status("live", "success");
            if (live.dropped) {
                ALL.forEach(function (s) { bump(s, null); });
                askFeedSoon();  // notices sent while the stream was down are lost: read again
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

    // Returns the page's id (`live-start`), by which the Overview's first callbacks take the
    // reads its stream started (dashboard/prefetch.py).
    function start() {
        if (window.peacewatchLive) {
            return window.dash_clientside.no_update;
        }
        var early = window.peacewatchEarly;
        window.peacewatchLive = {
            source: null, notices: 0, dropped: false, busy: busy, feed: FEED,
        };
        learnReaders();
        adopt(early);
        // A browser keeps at most 6 connections to a host (HTTP/1.1): close this one as the page
        // goes, or pages left in the back-forward cache hold theirs and starve the next page.
        window.addEventListener("pagehide", function () { window.peacewatchLive.source.close(); });
        window.addEventListener("pageshow", function (event) {
            if (event.persisted) { window.location.reload(); }  // back from that cache: reopen
        });
        window.setInterval(function () {
            if (window.peacewatchLive.source.readyState !== EventSource.OPEN) {
                ALL.forEach(function (s) { bump(s, null); });
                askFeedSoon();
            }
        }, POLL_MS);
        return { page: early ? early.id : null };
    }

    // Now, before Dash loads: its first requests (the page a visit lands on) go through it too.
    watchCallbacks();

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        peacewatch: { startLive: start, askFeed: askFeed, feedFromServer: feedFromServer },
    });
})();
