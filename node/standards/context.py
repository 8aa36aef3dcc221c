"""Who this node is, for the documents it exports (bridges.model.Context)."""

from typing import Any

from bridges.model import Context


def context(node: Any) -> Context:
    """The node's member and where its media can be fetched: URIs on this node's API."""
    scheme = "https" if node.config.tls_cert else "http"
    base = f"{scheme}://{node.config.api_host}:{node.config.api_port}/v1/media"
    return Context(node.member.name, node.member.country, node.peer_id, base, node.now_ms())
