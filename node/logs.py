"""Structured logs on stderr: one JSON object a line (journald keeps them whole), or text.

py-libp2p configures its logger to write WARNING and above straight to stderr, and logs
routine disconnects as multi-line errors; we route it through our handler at ERROR and
above only, with tracebacks cut to their last line.
"""

import json
import logging
import sys
import time

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage().splitlines()[0] if record.name.startswith("libp2p") else record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and not record.name.startswith("libp2p"):
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        return f"{record.levelname.lower():7s} {record.name}: {record.getMessage().splitlines()[0]} {extra}".rstrip()


def configure(level: str = "info", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The threshold sits on a handler of their own too: some py-libp2p modules set their
    # own logger's level when imported (auto_connector: INFO), which a parent's level
    # does not override.
    threshold = logging.CRITICAL if level != "debug" else logging.WARNING
    quiet = logging.StreamHandler(sys.stderr)
    quiet.setFormatter(handler.formatter)
    quiet.setLevel(threshold)
    for name in ("libp2p", "multiaddr", "hypercorn.access"):
        noisy = logging.getLogger(name)
        noisy.handlers[:] = [quiet]
        noisy.propagate = False
        noisy.setLevel(threshold)
