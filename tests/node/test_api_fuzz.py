"""The API fuzzed against its own OpenAPI document (schemathesis), on a real node process:
no 5xx, and every response matches the document."""

import subprocess
import sys
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from .federation import federation

# Invalid bodies must be refused; one over the body limit (generated strings can be long)
# is refused with 413 before it is parsed, which the default list does not include.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]
            }
        }
    }
)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    (datadir,) = federation(tmp_path_factory.mktemp("fuzz"), 1)
    config = datadir.config()
    base = f"http://{config.api_host}:{config.api_port}"
    process = subprocess.Popen([sys.executable, "-m", "node", "run", str(datadir.path)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        auth = {"Authorization": f"Bearer {datadir.token()}"}
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json", headers=auth, config=CONFIG)
        yield schema.exclude(path="/v1/events")  # an endless stream: tested in test_api.py
    finally:
        process.terminate()
        process.wait(timeout=15)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_matches_its_openapi_document_and_never_fails_with_5xx(case):
    case.call_and_validate()
