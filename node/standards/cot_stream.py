"""Cursor-on-Target over TCP: incidents out to TAK servers and clients, markers in.

Out (`cot_out = ["tcp://host:port", …]`): one task per destination keeps a connection,
reconnecting with exponential backoff (cot_backoff_ms_min to _max). On every
(re)connection it sends every located incident once (the picture a TAK client lacks),
then each incident again whenever it changes. Events wait in a bounded queue
(cot_queue_max; the oldest is dropped: the newest state of an incident supersedes it).

In (`cot_in = "127.0.0.1:8087"`, off when empty): a TCP listener, loopback unless
configured otherwise, for TAK clients. A stream is a sequence of `<event>` documents;
each is imported as `POST /v1/import/cot` would (bridges.cot, node/standards/imports),
by this node as a tool. An event that describes no incident (a TAK device's own position,
chat, drawings: bridges.cot's rules) is counted and dropped; a refused one is dropped,
counted and logged; a connection sending more than cot_event_bytes_max without closing an
event is cut, and one sending events faster than its budget (protocol/budget.py,
Input.COT) has the excess dropped and counted. At most cot_clients_max connections at once.
"""

import logging
from collections import OrderedDict
from typing import Any

import trio

from bridges import cot
from bridges.model import NotAnIncident
from bridges.xml import XmlRefused
from protocol import limits
from protocol.budget import Budgets, Input
from protocol.errors import ProtocolError, WriteRefused

from ..config import parse_host_port
from ..errors import StorageFailed
from .context import context
from .imports import NotFound, apply

log = logging.getLogger("qroc.cot")
END = b"</event>"


class CotOut:
    """Every destination's queue: incident id -> its newest event, oldest first."""

    def __init__(self, node: Any, destinations: list[str]) -> None:
        self.node = node
        self.destinations = destinations
        self._queues: dict[str, OrderedDict[bytes, bytes]] = {d: OrderedDict() for d in destinations}
        self._wake: dict[str, trio.Event] = {d: trio.Event() for d in destinations}

    def _event(self, incident: bytes) -> bytes | None:
        view = self.node.incident_view(incident, comments=False)
        return None if view is None else cot.stream_event(view, context(self.node))

    def on_incidents(self, incidents: set[bytes], only: str | None = None) -> None:
        """Queue the new state of each changed incident for every destination (or `only`)."""
        if not self.destinations:
            return
        for incident in incidents:
            event = self._event(incident)
            if event is None:
                continue
            for destination, queue in self._queues.items():
                if only is not None and destination != only:
                    continue
                queue.pop(incident, None)
                queue[incident] = event
                if len(queue) > limits.cot_queue_max:
                    queue.popitem(last=False)
                self._wake[destination].set()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            for destination in self.destinations:
                nursery.start_soon(self._keep, destination)

    async def _keep(self, destination: str) -> None:
        host, port = parse_host_port(destination.removeprefix("tcp://"), "cot_out")
        backoff = limits.cot_backoff_ms_min
        while True:
            try:
                stream = await trio.open_tcp_stream(host, port)
            except OSError as exc:
                log.info("CoT destination unreachable", extra={"to": destination, "error": str(exc)[:200]})
                await trio.sleep(backoff / 1000)
                backoff = min(backoff * 2, limits.cot_backoff_ms_max)
                continue
            log.info("CoT destination connected", extra={"to": destination})
            self.on_incidents(set(self.node.replica.visible_incidents()), only=destination)  # the whole picture
            connected = trio.current_time()
            try:
                async with stream:
                    await self._send(destination, stream)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
                log.info("CoT destination lost", extra={"to": destination, "error": str(exc)[:200]})
            # one that accepts and drops at once waits like one that refuses
            if trio.current_time() - connected < limits.cot_backoff_ms_max / 1000:
                await trio.sleep(backoff / 1000)
                backoff = min(backoff * 2, limits.cot_backoff_ms_max)
            else:
                backoff = limits.cot_backoff_ms_min

    async def _send(self, destination: str, stream: trio.SocketStream) -> None:
        queue = self._queues[destination]
        while True:
            while queue:
                incident, event = next(iter(queue.items()))
                with trio.fail_after(limits.cot_send_ms_max / 1000):  # a client that stopped reading
                    await stream.send_all(event)
                if queue.get(incident) is event:  # not superseded while it was sent
                    del queue[incident]
            self._wake[destination] = trio.Event()
            await self._wake[destination].wait()


class CotIn:
    def __init__(self, node: Any, listen: str) -> None:
        self.node = node
        self.host, self.port = parse_host_port(listen, "cot_in")
        self._clients = 0

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        log.info("CoT listener up", extra={"listen": f"{self.host}:{self.port}"})
        task_status.started()
        await trio.serve_listeners(self._serve, listeners)

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self._clients >= limits.cot_clients_max:
                log.warning("CoT client refused: too many connections")
                return
            self._clients += 1
            try:
                await self._read(stream)
            except (OSError, trio.BrokenResourceError) as exc:
                log.info("CoT client gone", extra={"error": str(exc)[:200]})
            finally:
                self._clients -= 1

    async def _read(self, stream: trio.SocketStream) -> None:
        buffer = b""
        budget = Budgets()  # this connection's: events are fsynced writes for the federation
        async for data in stream:
            buffer += data
            while (end := buffer.find(END)) != -1:
                event, buffer = buffer[: end + len(END)], buffer[end + len(END) :]
                if budget.take("cot", Input.COT, self.node.now_ms()):
                    self._import(event.strip())
                else:
                    self.node.metrics.throttled.labels("cot").inc()
            if len(buffer) > limits.cot_event_bytes_max:
                self.node.metrics.rejected.labels("too_large", "cot").inc()
                log.warning("CoT client cut: an event over the size limit")
                return

    def _import(self, event: bytes) -> None:
        try:
            for imported in cot.import_document(event):
                apply(self.node, imported, None)
        except NotAnIncident:
            self.node.metrics.not_incidents.labels("cot").inc()
        except XmlRefused as exc:
            self.node.metrics.rejected.labels(exc.reason, "cot").inc()
            log.info("CoT event refused", extra={"reason": exc.reason, "detail": str(exc)[:200]})
        except (NotFound, ProtocolError, WriteRefused, StorageFailed) as exc:
            log.info("CoT event not written", extra={"error": str(exc)[:200]})
