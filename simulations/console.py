"""Helpers shared by the console's browser tests (tests/console) and its benchmark
(simulations/bench_console.py): a cluster of real node processes running in a trio run on
a background thread, operator accounts, Chromium under Playwright's sync API, and a
watch on every page (console errors, page errors, CSP violations, requests to other
origins).

The UI names used here are those of the console contract (ids, labels, classes).
"""

import contextlib
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from node.datadir import DataDir

from .federation import Cluster

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "test-artefacts" / "console"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "kestrel-tram-lisbon-2026"


@dataclass(frozen=True)
class Account:
    name: str
    display_name: str
    role: str  # "operator" | "viewer"
    password: str = PASSWORD


# The nodes of the 3-node cluster: A = OC Belgium (BE), B = OC Czechia (CZ), C = OC Germany (DE).
A, B, C = 0, 1, 2
ACCOUNTS: dict[int, list[Account]] = {
    A: [Account("jana", "Jana Novák", "operator"), Account("marc", "Marc Dubois", "viewer")],
    B: [Account("pavel", "Pavel Černý", "operator")],
    C: [Account("lena", "Lena Schmidt", "operator")],
}


def add_operator(datadir: DataDir, account: Account) -> None:
    """`qroc operator add` (the password on stdin), as an OC's administrator would."""
    command = [sys.executable, "-m", "node", "operator", "add", str(datadir.path), account.name]
    command += ["--role", account.role, "--display-name", account.display_name, "--password-stdin"]
    result = subprocess.run(command, input=account.password + "\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"operator add {account.name}: {result.stdout}{result.stderr}"


class ClusterThread:
    """A `simulations.federation.Cluster` (node processes plus the link emulator) whose
    trio run lives on a background thread, for sync code (Playwright's sync API)."""

    def __init__(self, root: Path, n: int, accounts: dict[int, list[Account]] | None = None, **options: Any) -> None:
        options = {"sync_interval_s": 1.0, "log_format": "text", **options}
        self.root = root
        self.cluster = Cluster(root, n, **options)
        for i, listed in (accounts or {}).items():
            for account in listed:
                add_operator(self.cluster.dirs[i], account)
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def nodes(self):  # type: ignore[no-untyped-def]
        return self.cluster.nodes

    def start(self, timeout_s: float = 120) -> "ClusterThread":
        self._thread = threading.Thread(target=self._main, name="qroc-cluster", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"the cluster was not ready within {timeout_s} s (logs in {self.root})")
        if self._error is not None:
            self.stop()
            raise RuntimeError(f"the cluster did not start (logs in {self.root})") from self._error
        return self

    def _main(self) -> None:
        try:
            trio.run(self._run)
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _run(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._cancel = nursery.cancel_scope
            await self.cluster.start(nursery)
            self._ready.set()
            await trio.sleep_forever()

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call fn(*args) in the cluster's trio thread (fn must not block)."""
        assert self._token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Await fn(*args) in the cluster's trio run and return its result."""
        assert self._token is not None
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run fn(*args) as a background task of the cluster's run (ends at stop())."""
        assert self._nursery is not None
        self.run_sync(self._nursery.start_soon, fn, *args)

    def cut(self, i: int, j: int) -> None:
        """Cut the link between nodes i and j, both directions."""
        self.run_sync(lambda: (self.cluster.links.set_link(i, j, False), self.cluster.links.set_link(j, i, False)))

    def heal(self, i: int, j: int) -> None:
        self.run_sync(lambda: (self.cluster.links.set_link(i, j, True), self.cluster.links.set_link(j, i, True)))

    def stop(self) -> None:
        self.cluster.stop()  # SIGTERM to each node process (the links still up while they close)
        if self._token is not None and self._cancel is not None and self._thread and self._thread.is_alive():
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._cancel.cancel, trio_token=self._token)
        if self._thread is not None:
            self._thread.join(timeout=30)

    # --- the nodes' HTTP API with the bearer token (the machine interface), sync ---

    def api(self, i: int) -> httpx.Client:
        node = self.nodes[i]
        return httpx.Client(base_url=node.base_url, headers=node.headers, timeout=30)

    def wait_connected(self, timeout_s: float = 60) -> None:
        """Until every node is connected to every other."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            while True:
                health = httpx.get(node.base_url + "/v1/health", timeout=10).json()
                if health["peers_connected"] >= len(self.nodes) - 1:
                    break
                assert time.monotonic() < deadline, f"{node.base_url} not connected to all members: {health}"
                time.sleep(0.2)


def create_incident(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"category": "crowd", "severity": "high", **fields}
    response = api.post("/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_for_incident(api: httpx.Client, incident_id: str, timeout_s: float = 30) -> dict[str, Any]:
    """The incident as this node serves it, once it has arrived there."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = api.get(f"/v1/incidents/{incident_id}")
        if response.status_code == 200:
            return response.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"incident {incident_id} did not reach {api.base_url}: {response.text}"
        time.sleep(0.1)


def all_incidents(api: httpx.Client, exercise: str = "true") -> list[dict[str, Any]]:
    """Every incident the node holds (all pages of the summary view)."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"view": "summary", "limit": 500, "exercise": exercise, **({"cursor": cursor} if cursor else {})}
        response = api.get("/v1/incidents", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        out += page["incidents"]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def photo_png(label: str = "north gate") -> bytes:
    """A small real PNG (160x120) drawn with matplotlib."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.6, 1.2), dpi=100)
    axes = figure.add_subplot()
    axes.fill_between([0, 1, 2, 3], [1, 3, 2, 4], color="#c0392b")
    axes.set_title(label, fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


# --- the browser ---

# Injected by CDP before any page script (so the page's CSP does not apply to it): every
# CSP violation is kept in window.__cspViolations and also reported to the test through a
# binding, so that violations before a reload are not lost.
CSP_WATCH = """
(() => {
  window.__cspViolations = [];
  const record = (e) => {
    const v = {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
               line: e.lineNumber, sample: e.sample};
    window.__cspViolations.push(v);
    if (typeof window.__qrocCspReport === 'function') window.__qrocCspReport(JSON.stringify(v));
  };
  document.addEventListener('securitypolicyviolation', record, true);
})();
"""

_FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class PageWatch:
    """What went wrong on a page: console errors, page errors, CSP violations, requests to
    another origin. HTTP error statuses that the contract makes part of a normal flow are
    expected (Chrome logs each failed load as a console error): 401 on GET /v1/session
    before login by default; a test adds others (e.g. the 401 of a wrong password)."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    http_errors: list[tuple[int, str, str]] = field(default_factory=list)
    expected: list[tuple[int, str]] = field(default_factory=lambda: [(401, r"/v1/session")])

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", self._request)
        page.on("response", self._response)

    def expect_http(self, status: int, path_pattern: str) -> None:
        self.expected.append((status, path_pattern))

    def _is_expected(self, status: int, url: str) -> bool:
        path = urlsplit(url).path
        return any(status == s and re.fullmatch(p, path) for s, p in self.expected)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        failed = _FAILED_LOAD.match(message.text)
        if failed and url.startswith(self.origin) and self._is_expected(int(failed.group(1)), url):
            return
        self.console_errors.append(f"{message.text} (at {url})")

    def _request(self, request: Any) -> None:
        url = request.url
        self.requests.append(url)
        scheme = urlsplit(url).scheme
        if scheme in ("data", "about"):
            return
        inner = url[len("blob:") :] if scheme == "blob" else url
        if not (inner == self.origin or inner.startswith(self.origin + "/")):
            self.foreign_requests.append(url)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.http_errors.append((response.status, response.request.method, response.url))

    def read_csp(self, page: Any) -> None:
        """Add the violations the page holds (also reported by the binding: deduplicated)."""
        try:
            held = page.evaluate("JSON.stringify(window.__cspViolations || [])")
        except Exception:  # the page is gone or navigating: the binding has them
            return
        for violation in json.loads(held):
            text = json.dumps(violation, sort_keys=True)
            if text not in self.csp_violations:
                self.csp_violations.append(text)

    def problems(self) -> list[str]:
        return (
            [f"console error: {e}" for e in self.console_errors]
            + [f"page error: {e}" for e in self.page_errors]
            + [f"CSP violation: {e}" for e in self.csp_violations]
            + [f"request to another origin: {u}" for u in self.foreign_requests]
        )


def launch_chromium(playwright: Any, extra_args: list[str] | None = None, **options: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + (extra_args or []), **options)


class Console:
    """One browser context (one operator's session) on one node's console."""

    def __init__(self, browser: Any, base_url: str, name: str = "console") -> None:
        self.base_url = base_url
        self.name = name
        self.context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
        self.context.set_default_timeout(20_000)
        self.watch = PageWatch(origin=base_url)
        self.context.add_init_script(CSP_WATCH)

        def reported(source: Any, raw: str) -> None:
            text = json.dumps(json.loads(raw), sort_keys=True)
            if text not in self.watch.csp_violations:
                self.watch.csp_violations.append(text)

        self.context.expose_binding("__qrocCspReport", reported)
        self.page = self.context.new_page()
        self.watch.attach(self.page)

    # --- navigation ---

    def goto(self, route: str = "") -> None:
        """Load the console at `route` (e.g. "#/board"): a full load if nothing is loaded."""
        self.page.goto(self.base_url + "/" + route)

    def route(self, route: str) -> None:
        """Change the hash in the loaded page (no reload)."""
        self.page.evaluate("r => { location.hash = r }", route)

    def login(self, account: Account, wait_board: bool = True) -> None:
        page = self.page
        if not page.url.startswith(self.base_url):
            self.goto()
        form = page.locator("form#login")
        form.wait_for(state="visible")
        form.get_by_label("Operator name").fill(account.name)
        form.get_by_label("Password").fill(account.password)
        form.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Log out").wait_for(state="visible")
        if wait_board:
            page.locator("table#board").wait_for(state="visible")

    def mark(self) -> None:
        """Set a marker in the page's window: `unreloaded()` tells whether it survived."""
        self.page.evaluate("window.__qrocNoReload = 'kept'")

    def unreloaded(self) -> bool:
        return bool(self.page.evaluate("window.__qrocNoReload === 'kept'"))

    def screenshot(self, view: str) -> Path:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"{view}.png"
        self.page.screenshot(path=str(path))
        return path

    # --- the API with this page's session cookie ---

    def csrf_token(self) -> str:
        response = self.page.request.get(self.base_url + "/v1/session")
        assert response.status == 200, response.text()
        return str(response.json()["csrf_token"])

    def session_api(self, method: str, path: str, body: Any = None, csrf: bool | str = True) -> Any:
        """A request with this page's cookie: with its CSRF token (csrf=True), a given
        token (csrf=str) or none (csrf=False)."""
        headers = {}
        if csrf is True:
            headers["X-CSRF-Token"] = self.csrf_token()
        elif isinstance(csrf, str):
            headers["X-CSRF-Token"] = csrf
        return self.page.request.fetch(self.base_url + path, method=method, data=body, headers=headers)

    # --- teardown ---

    def close(self) -> list[str]:
        """Close the context; what went wrong on the page, each line naming it."""
        self.watch.read_csp(self.page)
        problems = [f"[{self.name}] {p}" for p in self.watch.problems()]
        try:
            self.context.close()
        except Exception as exc:
            problems.append(f"[{self.name}] closing the context failed: {exc}")
        return problems


def wait_image_loaded(page: Any, selector: str, timeout_ms: float = 30_000) -> int:
    """Until an <img> matching `selector` has decoded (naturalWidth > 0); its naturalWidth."""
    handle = page.wait_for_function(
        """sel => { for (const img of document.querySelectorAll(sel)) {
                      if (img.complete && img.naturalWidth > 0) return img.naturalWidth; }
                    return 0; }""",
        arg=selector,
        timeout=timeout_ms,
    )
    return int(handle.json_value())
