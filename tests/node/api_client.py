"""HTTP clients for real nodes' APIs."""

import httpx

from node.node import Node


def client(node: Node, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token if token is not None else node.datadir.token()}"}
    return httpx.AsyncClient(
        base_url=f"http://{node.config.api_host}:{node.config.api_port}", headers=headers, timeout=10
    )


INCIDENT = {
    "title": "Armed robbery, suspects fleeing towards the German border",
    "category": "manhunt",
    "severity": "high",
    "description": "Two suspects, dark Skoda Octavia",
    "location": {"lat": 50.0755, "lon": 14.4378, "place": "Prague"},
    "tags": ["robbery", "vehicle"],
}
