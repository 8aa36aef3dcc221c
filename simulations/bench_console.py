"""Operator console figures, in Chromium (Playwright) against 3 real node processes.

    python -m simulations.bench_console [--json FILE] [--memory-minutes 30] [--incidents 50] [--board 5000]

1. Live board: time from the 201 of `POST /v1/incidents` on node A (bearer token) until
   the row is in the DOM of B's open board (a MutationObserver timestamps each
   `tr[data-incident-id]` as it is inserted, on the wall clock: performance.timeOrigin +
   performance.now(), compared with the POST's wall time); p50/p99 over `--incidents`.
2. First load on loopback, logged in (session cookie, cold cache: a fresh browser context
   each time): bytes transferred (CDP Network.loadingFinished encodedDataLength, the
   event stream excluded) and time from navigation start until `#board` has its rows;
   then the same load warm (revalidated from the cache).
3. Board with `--board` incidents (made through the API on one node, concurrently): from
   navigation until the first rows show, until every page of /v1/incidents is fetched, and
   until the board settles (its last DOM change or long task after that fetch); then the
   time from typing a search (the title of the oldest incident) until it is the only row.
4. Memory of B's tab on the board while node A writes 1 entry/s (a new incident every
   10th second, else a comment), sampled each minute for `--memory-minutes`
   (performance.memory.usedJSHeapSize with --enable-precise-memory-info; CDP
   Performance.getMetrics JSHeapUsedSize and DOM node count, before and after a GC).

Timings are the browser's and the machine's own: nothing here is asserted.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from .bench_mesh import percentile
from .console import ACCOUNTS, A, B, ClusterThread, Console, launch_chromium

# Timestamps every incident row as it enters the DOM, the board's mutations and the long
# tasks: installed before the console's own scripts run.
PROBE = """
(() => {
  window.__seen = {};
  window.__firstRowAt = null;
  window.__boardMutations = [];
  window.__longTasks = [];
  const rowsIn = (node) => node.matches && node.matches('tr[data-incident-id]')
      ? [node] : (node.querySelectorAll ? [...node.querySelectorAll('tr[data-incident-id]')] : []);
  new MutationObserver((records) => {
    const now = performance.now();
    let board = false;
    for (const record of records) {
      if (record.target.closest && record.target.closest('table#board')) board = true;
      for (const node of record.addedNodes) {
        for (const row of rowsIn(node)) {
          if (!row.closest('table#board')) continue;
          board = true;
          if (window.__firstRowAt === null) window.__firstRowAt = now;
          const id = row.dataset.incidentId;
          if (!(id in window.__seen)) window.__seen[id] = performance.timeOrigin + now;
        }
      }
    }
    if (board && window.__boardMutations.length < 100000) window.__boardMutations.push(now);
  }).observe(document, {childList: true, subtree: true, characterData: true});
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push(e.startTime + e.duration);
    }).observe({type: 'longtask', buffered: true});
  } catch (e) { /* no long task timing */ }
})();
"""

# Types `text` into the search box and resolves with the ms until `id` is the only row.
SEARCH = """
async (input, [text, id]) => {
  const only = () => {
    const rows = document.querySelectorAll('table#board tr[data-incident-id]');
    return rows.length === 1 && rows[0].dataset.incidentId === id;
  };
  const started = performance.now();
  input.value = text;
  input.dispatchEvent(new Event('input', {bubbles: true}));
  input.dispatchEvent(new Event('change', {bubbles: true}));
  return await new Promise((resolve, reject) => {
    const check = () => { if (only()) { observer.disconnect(); resolve(performance.now() - started); return true; } };
    const observer = new MutationObserver(check);
    observer.observe(document.querySelector('table#board'), {childList: true, subtree: true, attributes: true});
    if (check()) return;
    const poll = () => { if (!check()) {
      if (performance.now() - started > 30000) reject(new Error('search never left the one row'));
      else setTimeout(poll, 5);
    } };
    setTimeout(poll, 5);
  });
}
"""

JANA = ACCOUNTS[A][0]
PAVEL = ACCOUNTS[B][0]


def wait_js(page: Any, expression: str, arg: Any = None, timeout_s: float = 60, poll_s: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression} stayed falsy for {timeout_s} s")
        page.wait_for_timeout(poll_s * 1000)


def probed_console(browser: Any, cluster: ClusterThread, node: int, name: str) -> Console:
    console = Console(browser, cluster.nodes[node].base_url, name)
    console.context.add_init_script(PROBE)
    return console


def live_board(browser: Any, cluster: ClusterThread, incidents: int) -> dict[str, Any]:
    b = probed_console(browser, cluster, B, "B live board")
    b.login(PAVEL)
    b.page.wait_for_timeout(1000)
    api = cluster.api(A)
    delays, from_send = [], []
    for k in range(incidents):
        sent = time.time()
        response = api.post(
            "/v1/incidents", json={"title": f"Live board probe {k:03d}", "category": "crowd", "severity": "high"}
        )
        acked = time.time()
        assert response.status_code == 201, response.text
        seen = wait_js(b.page, "id => window.__seen[id] || null", response.json()["id"], timeout_s=60)
        delays.append(seen - acked * 1000)
        from_send.append(seen - sent * 1000)
        b.page.wait_for_timeout(100)
    problems = b.close()
    return {
        "nodes": len(cluster.nodes),
        "incidents": incidents,
        "visible_p50_ms": percentile(delays, 50),
        "visible_p99_ms": percentile(delays, 99),
        "visible_max_ms": max(delays),
        "from_send_p50_ms": percentile(from_send, 50),
        "page_problems": problems,
    }


def _load(console: Console, wait_rows: bool = True) -> dict[str, Any]:
    """Navigate to / and measure until the board has its rows."""
    cdp = console.context.new_cdp_session(console.page)
    cdp.send("Network.enable")
    requests: dict[str, str] = {}
    finished: dict[str, int] = {}

    def sent(event: dict[str, Any]) -> None:
        requests[event["requestId"]] = event["request"]["url"]

    def done(event: dict[str, Any]) -> None:
        finished[event["requestId"]] = int(event["encodedDataLength"])

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.loadingFinished", done)
    console.goto()
    interactive = wait_js(console.page, "window.__firstRowAt", timeout_s=120) if wait_rows else None
    bytes_interactive = sum(finished.values())
    console.page.wait_for_timeout(2000)
    timing = console.page.evaluate(
        """() => { const n = performance.getEntriesByType('navigation')[0];
                   return {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd}; }"""
    )
    cdp.detach()
    return {
        "interactive_ms": interactive,
        "bytes_until_interactive": bytes_interactive,
        "bytes_after_2s": sum(finished.values()),
        "requests": len(requests),
        **timing,
    }


def first_load(browser: Any, cluster: ClusterThread, loads: int) -> dict[str, Any]:
    login = Console(browser, cluster.nodes[A].base_url, "A login")
    login.login(JANA)
    cookies = login.context.cookies()
    problems = login.close()
    cold, warm = [], []
    for _ in range(loads):
        console = probed_console(browser, cluster, A, "A first load")
        console.context.add_cookies(cookies)
        cold.append(_load(console))
        warm.append(_load(console))
        problems += console.close()
    pick = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    return {
        "loads": loads,
        "incidents_on_board": len(cluster.api(A).get("/v1/incidents", params={"limit": 500}).json()["incidents"]),
        "cold_interactive_ms_median": pick(cold, "interactive_ms"),
        "cold_bytes_until_interactive": pick(cold, "bytes_until_interactive"),
        "cold_bytes_after_2s": pick(cold, "bytes_after_2s"),
        "cold_requests": pick(cold, "requests"),
        "cold_dom_content_loaded_ms": pick(cold, "dom_content_loaded_ms"),
        "warm_interactive_ms_median": pick(warm, "interactive_ms"),
        "warm_bytes_until_interactive": pick(warm, "bytes_until_interactive"),
        "runs": {"cold": cold, "warm": warm},
        "page_problems": problems,
    }


async def _create_many(cluster: ClusterThread, node: int, n: int, concurrency: int) -> list[str]:
    ids: list[str] = [""] * n
    send, receive = trio.open_memory_channel[int](n)
    for k in range(n):
        send.send_nowait(k)
    send.close()
    categories = ["cbrne", "manhunt", "crowd", "terrorism", "other"]
    severities = ["low", "medium", "high", "critical"]

    async def worker() -> None:
        async with cluster.nodes[node].client() as api:
            async for k in receive:
                body = {
                    "title": f"bench-board-{k:05d} {categories[k % 5]} near checkpoint {k % 97}",
                    "category": categories[k % 5],
                    "severity": severities[k % 4],
                    "description": "Synthetic incident for the console benchmark.",
                    "location": {"lat": 40 + (k % 200) / 10, "lon": -5 + (k % 300) / 10},
                    "tags": ["bench"],
                }
                response = await api.post("/v1/incidents", json=body)
                assert response.status_code == 201, response.text
                ids[k] = response.json()["id"]

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return ids


def _wait_replicated(cluster: ClusterThread, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        counts = [cluster.api(i).get("/v1/node").json()["counts"]["incidents"] for i in range(len(cluster.nodes))]
        if len(set(counts)) == 1:
            return
        assert time.monotonic() < deadline, f"incident counts never converged: {counts}"
        time.sleep(1)


def incidents_fetched(page: Any, quiet_s: float = 1.5) -> tuple[int, float]:
    """Once every page of /v1/incidents is fetched (no new one for `quiet_s`): how many
    pages, and when the last one ended (ms since navigation start)."""
    quiet_since, count, end = time.monotonic(), -1, 0.0
    while time.monotonic() - quiet_since < quiet_s:
        entries = page.evaluate(
            """() => performance.getEntriesByType('resource')
                 .filter(e => new URL(e.name).pathname === '/v1/incidents').map(e => e.responseEnd)"""
        )
        if len(entries) != count:
            count, end, quiet_since = len(entries), max(entries, default=0.0), time.monotonic()
        page.wait_for_timeout(100)
    return count, end


def big_board(browser: Any, cluster: ClusterThread, n: int, concurrency: int, searches: int) -> dict[str, Any]:
    started = time.monotonic()
    ids = cluster.run(_create_many, cluster, A, n, concurrency)
    create_s = time.monotonic() - started
    _wait_replicated(cluster)
    total = cluster.api(A).get("/v1/node").json()["counts"]["incidents"]

    login = Console(browser, cluster.nodes[A].base_url, "A login")
    login.login(JANA)
    cookies = login.context.cookies()
    problems = login.close()
    console = probed_console(browser, cluster, A, "A big board")
    console.context.add_cookies(cookies)
    load = _load(console)
    page = console.page
    last_count, last_end = incidents_fetched(page)
    settled = page.evaluate(
        """end => Math.max(end, ...window.__boardMutations.filter(t => t <= end + 2000),
                           ...window.__longTasks.filter(t => t <= end + 2000))""",
        last_end,
    )
    rows_in_dom = page.locator("table#board tr[data-incident-id]").count()
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")

    search = page.get_by_label("Search")
    timings = []
    for k in range(searches):
        target = (k * 997) % n
        timings.append(search.evaluate(SEARCH, [f"bench-board-{target:05d} ", ids[target]]))
    search.fill("")
    problems += console.close()
    return {
        "incidents_created": n,
        "incidents_on_node": total,
        "create_s": create_s,
        "create_per_s": n / create_s,
        "first_rows_ms": load["interactive_ms"],
        "all_pages_fetched_ms": last_end,
        "incident_pages_fetched": last_count,
        "board_settled_ms": settled,
        "bytes_transferred": load["bytes_after_2s"],
        "rows_in_dom": rows_in_dom,
        "js_heap_bytes": heap,
        "search_p50_ms": percentile(timings, 50),
        "search_max_ms": max(timings),
        "searches": searches,
        "page_problems": problems,
    }


async def _writer(cluster: ClusterThread, node: int, stop_at: float, count: list[int]) -> None:
    async with cluster.nodes[node].client() as api:
        recent: list[str] = []
        k = 0
        next_at = trio.current_time()
        while time.monotonic() < stop_at:
            if k % 10 == 0 or not recent:
                response = await api.post(
                    "/v1/incidents",
                    json={"title": f"Memory probe incident {k}", "category": "other", "severity": "medium"},
                )
                recent = [response.json()["id"], *recent][:10]
            else:
                await api.post(f"/v1/incidents/{recent[k % len(recent)]}/comments", json={"text": f"update {k}"})
            count[0] += 1
            k += 1
            next_at += 1.0
            await trio.sleep_until(next_at)


def memory(browser: Any, cluster: ClusterThread, minutes: int) -> dict[str, Any]:
    b = probed_console(browser, cluster, B, "B memory")
    b.login(PAVEL)
    incidents_fetched(b.page)  # the whole board is loaded before the first sample
    cdp = b.context.new_cdp_session(b.page)
    cdp.send("Performance.enable")
    cdp.send("HeapProfiler.enable")
    written = [0]

    def sample(minute: int) -> dict[str, Any]:
        used = b.page.evaluate("performance.memory.usedJSHeapSize")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        cdp.send("HeapProfiler.collectGarbage")
        after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        row = {
            "minute": minute,
            "entries_written": written[0],
            "used_js_heap_bytes": used,
            "cdp_js_heap_used_bytes": metrics.get("JSHeapUsedSize"),
            "cdp_js_heap_used_after_gc_bytes": after.get("JSHeapUsedSize"),
            "dom_nodes_after_gc": after.get("Nodes"),
            "js_event_listeners": after.get("JSEventListeners"),
            "board_rows": b.page.locator("table#board tr[data-incident-id]").count(),
        }
        print(json.dumps(row), flush=True)
        return row

    samples = [sample(0)]
    stop_at = time.monotonic() + minutes * 60
    cluster.start_soon(_writer, cluster, A, stop_at, written)
    for minute in range(1, minutes + 1):
        b.page.wait_for_timeout(max(0.0, stop_at - (minutes - minute) * 60 - time.monotonic()) * 1000)
        samples.append(sample(minute))
    cdp.detach()
    problems = b.close()
    heap = [s["cdp_js_heap_used_after_gc_bytes"] for s in samples]
    growth = None
    if len(samples) >= 3:
        xs = [s["minute"] for s in samples[1:]]
        ys = heap[1:]
        mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
        growth = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
    return {
        "minutes": minutes,
        "entries_written": written[0],
        "heap_after_gc_start_bytes": heap[0],
        "heap_after_gc_end_bytes": heap[-1],
        "heap_after_gc_growth_bytes_per_min": growth,
        "dom_nodes_start": samples[0]["dom_nodes_after_gc"],
        "dom_nodes_end": samples[-1]["dom_nodes_after_gc"],
        "samples": samples,
        "page_problems": problems,
    }


def table(report: dict[str, Any]) -> None:
    for part, figures in report.items():
        if not isinstance(figures, dict):
            continue
        print(f"\n{part}")
        for name, value in figures.items():
            if isinstance(value, (dict, list)):
                if name == "page_problems" and value:
                    print(f"  {name:40s} {len(value)} (see JSON)")
                continue
            shown = f"{value:14.1f}" if isinstance(value, float) else f"{value!s:>14}"
            print(f"  {name:40s} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50, help="samples of the live board")
    parser.add_argument("--loads", type=int, default=5, help="first loads (each cold, then warm)")
    parser.add_argument("--board", type=int, default=5000, help="incidents on the big board")
    parser.add_argument("--concurrency", type=int, default=16, help="clients creating the big board")
    parser.add_argument("--searches", type=int, default=5)
    parser.add_argument("--memory-minutes", type=int, default=30, help="0 skips the memory run")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="qroc-bench-console-"))
    cluster = ClusterThread(root, 3, accounts=ACCOUNTS).start()
    report: dict[str, Any] = {}
    chromium_version = None
    try:
        cluster.wait_connected()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, ["--enable-precise-memory-info"])
            chromium_version = browser.version
            try:
                report["live_board"] = live_board(browser, cluster, args.incidents)
                report["first_load"] = first_load(browser, cluster, args.loads)
                if args.board:
                    report["big_board"] = big_board(browser, cluster, args.board, args.concurrency, args.searches)
                if args.memory_minutes:
                    report["memory"] = memory(browser, cluster, args.memory_minutes)
            finally:
                browser.close()
    finally:
        cluster.stop()
    report["setup"] = {"chromium": chromium_version, "cores": os.cpu_count(), "node_logs": str(root)}
    table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
