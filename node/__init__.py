"""QROC Mesh node: the trio + libp2p shell around `protocol/`. It owns all I/O."""

__version__ = "0.1.0"
