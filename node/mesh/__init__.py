"""The libp2p side: host and member admission, gossip, sync streams, liveness."""
