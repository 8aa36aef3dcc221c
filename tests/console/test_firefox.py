"""The console in Debian's Firefox ESR (driven by puppeteer-core over WebDriver BiDi, see
firefox/smoke.mjs): log in, see the board, open an incident, comment, see the map, with
no console error, no page error and no request to another origin."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from simulations.console import ACCOUNTS, ARTEFACTS, PASSWORD, A

SMOKE = Path(__file__).with_name("firefox") / "smoke.mjs"
FIREFOX = Path("/usr/bin/firefox-esr")


def test_the_console_works_in_firefox_too(cluster):
    if not FIREFOX.exists() or shutil.which("npm") is None:
        pytest.skip("needs Debian's firefox-esr and Node.js with npm (.ci/run installs them)")
    if not (SMOKE.parent / "node_modules" / "puppeteer-core").exists():  # the locked version, from the registry
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=SMOKE.parent, check=True, timeout=300)
    created = cluster.api(A).post(
        "/v1/incidents",
        json={"title": "Crowd surge at Lisbon fan zone", "category": "crowd", "severity": "high"}
        | {"location": {"lat": 38.7, "lon": -9.14}},
    )
    assert created.status_code == 201, created.text
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    url, incident = cluster.nodes[A].base_url + "/", created.json()["id"]
    result = subprocess.run(
        ["node", str(SMOKE), url, ACCOUNTS[A][0].name, PASSWORD, incident, str(ARTEFACTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"errors": [], "foreign": [], "steps": ["board", "incident", "comment", "map", "outlines"]}
