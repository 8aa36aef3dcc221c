"""Prometheus metrics, one registry per node (tests run several nodes in one process)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.entries = Counter(
            "qroc_entries", "Entries stored, by kind and how they arrived", ["kind", "via"], registry=r
        )
        self.rejected = Counter(
            "qroc_rejected_inputs",
            "Inputs dropped as malformed or hostile, by reason and source",
            ["reason", "source"],
            registry=r,
        )
        self.gossip_received = Counter("qroc_gossip_received", "Gossip messages validated", registry=r)
        self.gossip_published = Counter("qroc_gossip_published", "Own entries queued for gossip", registry=r)
        self.sync_sessions = Counter("qroc_sync_sessions", "Sync sessions, by outcome", ["outcome"], registry=r)
        self.sync_messages = Counter("qroc_sync_messages", "Sync messages exchanged", registry=r)
        self.sync_entries = Counter("qroc_sync_entries_received", "Entries received by sync", registry=r)
        self.peers_connected = Gauge("qroc_peers_connected", "Roster members connected now", registry=r)
        self.roster_members = Gauge("qroc_roster_members", "Current roster members, this node included", registry=r)
        self.refused_peers = Counter("qroc_refused_peers", "Connections refused: peer not on the roster", registry=r)
        self.sync_lag = Gauge(
            "qroc_sync_lag_entries", "Entries a connected peer holds that we lack", ["peer"], registry=r
        )
        self.pending = Gauge("qroc_pending_entries", "Entries waiting for their predecessor", registry=r)
        self.chunks_fetched = Counter("qroc_chunks_fetched", "Media chunks fetched, verified and stored", registry=r)
        self.chunks_served = Counter("qroc_chunks_served", "Media chunks sent to peers", registry=r)
        self.forks = Counter("qroc_forks_detected", "Fork proofs that lowered an author's verdict", registry=r)
        self.quarantined = Gauge(
            "qroc_quarantined_entries", "Stored entries this version refuses, set aside at start", registry=r
        )
        self.writes_refused = Counter(
            "qroc_writes_refused",
            "Local writes refused by the write gate or the store, by reason",
            ["reason"],
            registry=r,
        )
        self.internal_errors = Counter(
            "qroc_internal_errors",
            "Unexpected exceptions (bugs, unforeseen input) while handling one peer's or client's input, by where",
            ["where"],
            registry=r,
        )
        self.api_latency = Histogram(
            "qroc_api_request_seconds", "HTTP API latency", ["method", "route", "status"], registry=r
        )
        self.connections_closed = Counter(
            "qroc_connections_closed",
            "Member connections closed by the liveness checks, by reason: stuck (in TCP back-off while its path"
            " answered), stalled (no ACK for long: link down), unanswered (echo probes missed)",
            ["reason"],
            registry=r,
        )
        self.throttled = Counter(
            "qroc_throttled", "Inputs from members dropped over their budget, by kind", ["kind"], registry=r
        )
        self.not_incidents = Counter(
            "qroc_imports_not_incidents",
            "Valid imported documents that describe no incident (TAK positions, chat, drawings), by format",
            ["format"],
            registry=r,
        )
        self.bans = Counter("qroc_peer_bans", "Members banned for repeated invalid or excess input", registry=r)
        self.chunks_collected = Counter(
            "qroc_chunks_collected",
            "Chunk files removed because no stored manifest lists them (failed uploads, crashes mid-upload)",
            registry=r,
        )
