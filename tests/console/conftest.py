"""Fixtures of the console's browser tests: one 3-node cluster of real node processes
(links through the link emulator) and one Chromium, shared by the package's tests and
stopped when they end; each test opens consoles (one browser context each) and, at
teardown, every page must have had no console error, no page error, no CSP violation and
no request to another origin."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from simulations.console import ACCOUNTS, ARTEFACTS, CHROMIUM, ClusterThread, Console, launch_chromium


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterThread]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")
    (ARTEFACTS / "pages.jsonl").unlink(missing_ok=True)
    running = ClusterThread(tmp_path_factory.mktemp("console-cluster"), 3, accounts=ACCOUNTS)
    running.start()
    try:
        running.wait_connected()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console(browser: Any, cluster: ClusterThread, request: pytest.FixtureRequest) -> Iterator[Callable[..., Console]]:
    """open(node, name) -> a Console on that node's page, in a context of its own."""
    opened: list[Console] = []

    def open_console(node: int, name: str | None = None) -> Console:
        page = Console(browser, cluster.nodes[node].base_url, name or f"node {node} page {len(opened) + 1}")
        opened.append(page)
        return page

    yield open_console
    problems = [problem for page in opened for problem in page.close()]
    # What each page asked for and which HTTP errors it met (expected ones included).
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTEFACTS / "pages.jsonl", "a") as log:
        for page in opened:
            record = {"test": request.node.name, "page": page.name, "requests": len(page.watch.requests)}
            log.write(json.dumps({**record, "http_errors": page.watch.http_errors}) + "\n")
    assert not problems, "\n".join(problems)
