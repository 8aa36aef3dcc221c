"""The controller's node: loads MSELs, and releases their injects on time, durably.

Decisions are exercise.conduct's; this module keeps the runs in the store, copies each
MSEL with its attachments under DATA_DIR/exercises/<run>/, and every conduct_tick_ms
takes the steps that are due. Each step's entry is written with its step row in one
transaction (Store.also), so a node killed at any point resumes at the first step not
stored: nothing is released twice, nothing is lost. A phase change (STARTEX, pause,
resume, ENDEX) is a comment or the opening of the control incident, stored in one
transaction with the run's new phase.
"""

import dataclasses
import logging
import math
import mimetypes
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import trio

from exercise.conduct import ConductError, Phase, Run, Step
from exercise.msel import InjectKind, MselError, parse
from protocol import limits
from protocol.body import Category, Comment, Open, Registers, Severity
from protocol.entry import Entry
from protocol.errors import ProtocolError, WriteRefused

from ..datadir import fsync_dir, write_atomically
from ..errors import StorageFailed
from . import runs

log = logging.getLogger("qroc.exercise")
SHIPPED = Path(str(resources.files("exercise") / "msels"))  # package data (pyproject.toml)


def shipped() -> list[str]:
    """The names of the MSELs shipped with this software."""
    return sorted(p.parent.name for p in SHIPPED.glob("*/msel.toml"))


def _keep_files(root: Path, folder: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` under `folder` durably: each file and its directory fsynced (by
    write_atomically), and each directory above it up to `root`, which holds the folder."""
    folder.mkdir(parents=True)
    above = {root}
    for path, content in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, content)
        above.update(d for d in target.parent.parents if d.is_relative_to(folder))
    for directory in above:
        fsync_dir(directory)


def shipped_files(name: str) -> tuple[bytes, dict[str, bytes]]:
    """A shipped MSEL and its attachments; KeyError if there is none by that name."""
    if name not in shipped():
        raise KeyError(name)
    folder = SHIPPED / name
    return (folder / "msel.toml").read_bytes(), {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / "files").glob("*")) if p.is_file()
    }


class Conductor:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.root: Path = node.datadir.path / "exercises"
        self.runs: dict[int, Run] = {}
        self.folders: dict[int, Path] = {}
        for run_id, (run, folder) in runs.load(node.store.db).items():
            self.runs[run_id], self.folders[run_id] = run, Path(folder)
        self._wake = trio.Event()
        self._retry_at: dict[tuple[int, str, int], int] = {}  # a failed step: not before then

    # --- loading ---

    async def load(self, data: bytes, files: Mapping[str, bytes], speed: float = 1.0) -> int:
        """Check an MSEL and its attachments and keep them as a new run (phase ready),
        played at `speed` (play time per wall time). Raises MselError, naming the
        problem; nothing is kept then."""
        if len(self.runs) >= limits.exercise_runs_max:
            raise MselError(f"this node keeps at most {limits.exercise_runs_max} exercise runs")
        if not 1 <= speed <= limits.conduct_speed_max:
            raise MselError(f"speed must be from 1 to {limits.conduct_speed_max}")
        msel = parse(data, {path: len(content) for path, content in files.items()})
        wanted = {path: files[path] for inject in msel.injects for path in inject.attachments}
        # The attachments are on disk (fsynced, on a worker thread) before the run that
        # names them is committed: a run is never acknowledged without its files.
        folder = self.root / os.urandom(8).hex()
        try:
            await trio.to_thread.run_sync(_keep_files, self.root, folder, wanted)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise StorageFailed(f"cannot keep the exercise's files: {exc}") from None
        try:
            with self.node.store.transaction() as db:
                run_id = runs.create(db, msel, data, speed, self.node.now_ms())
                runs.set_folder(db, run_id, str(folder))
        except sqlite3.Error:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.runs[run_id], self.folders[run_id] = Run(msel, speed=speed), folder
        log.info("exercise loaded", extra={"run": run_id, "exercise": msel.name, "injects": len(msel.injects)})
        return run_id

    def run(self, run_id: int) -> Run:
        try:
            return self.runs[run_id]
        except KeyError:
            raise ConductError(f"no exercise run {run_id}") from None

    # --- the controller's actions ---

    def start(self, run_id: int, operator: str | None) -> None:
        run = self.run(run_id)
        msel = run.msel
        after = dataclasses.replace(run)
        opening = Open(
            Registers(
                title=_fit(f"{msel.title} — exercise control", limits.title_chars_max),
                category=Category.OTHER,
                severity=Severity.LOW,
                description=_fit(f"STARTEX.\n\n{msel.briefing}", limits.text_chars_max),
            ),
            ("exercise-control",),
        )
        run.require({Phase.READY}, "start")

        def record(db: sqlite3.Connection, entry: Entry) -> None:
            after.start(self.node.now_ms(), entry.id)
            runs.save_phase(db, run_id, after)

        self.node.write(opening, msel.name, operator, self.addressees(msel.participants), record)
        self.runs[run_id] = after
        self._wake.set()

    def phase_change(self, run_id: int, action: str, operator: str | None) -> None:
        """pause, resume or end: a comment on the control incident with the new phase."""
        run = self.run(run_id)
        after = dataclasses.replace(run)
        change: Callable[[int], None] = {"pause": after.pause, "resume": after.resume, "end": after.end}[action]
        change(self.node.now_ms())  # ConductError if the phase does not allow it: nothing written
        text = {"pause": "Exercise paused.", "resume": "Exercise resumed.", "end": "ENDEX."}[action]
        assert run.control is not None
        self.node.write(
            Comment(run.control, text), run.msel.name, operator, (), lambda db, _: runs.save_phase(db, run_id, after)
        )
        self.runs[run_id] = after
        self._wake.set()

    def decide(self, run_id: int, inject_id: str, decision: Literal["publish", "skip"]) -> list[str]:
        """Publish (release now) or skip an inject; the injects it concerns."""
        run = self.run(run_id)
        after = dataclasses.replace(run, published=set(run.published), skipped=set(run.skipped))
        if decision == "publish":
            after.publish(inject_id)
            injects = [inject_id]
        else:
            injects = after.skip(inject_id)
        with self.node.store.transaction() as db:
            runs.decided(db, run_id, injects, "published" if decision == "publish" else "skipped", self.node.now_ms())
        self.runs[run_id] = after
        self._wake.set()
        return injects

    def addressees(self, countries: tuple[str, ...]) -> tuple[bytes, ...]:
        """The members of these countries, and always this node: an addressed entry never
        falls open to every member when a target country has no member on the roster."""
        me = self.node.identity.public_key
        return tuple(sorted({me, *(m.public_key for m in self.node.roster if m.country in countries)}))

    # --- releasing ---

    def _next_step(self, run_id: int, now_ms: int) -> Step | None:
        """The run's first due step not waiting out a failure."""
        for step in self.runs[run_id].due(now_ms):
            if self._retry_at.get((run_id, step.inject, step.index), 0) <= now_ms:
                return step
        return None

    async def release_forever(self) -> None:
        """Each pass takes one step per run and looks again: a step that awaits (an
        upload) may see the run paused, ended or the inject skipped meanwhile. With no run
        in play nothing is due until a run changes (which wakes it): no ticking."""
        while True:
            playing = any(run.phase in (Phase.RUNNING, Phase.PAUSED) for run in self.runs.values())
            with trio.move_on_after(limits.conduct_tick_ms / 1000 if playing else math.inf):
                await self._wake.wait()
            self._wake = trio.Event()
            progressed = True
            while progressed and self.node.writable:
                progressed = False
                for run_id in list(self.runs):
                    step = self._next_step(run_id, self.node.now_ms())
                    if step is not None:
                        progressed |= await self._take(run_id, step)

    async def _take(self, run_id: int, step: Step) -> bool:
        """Release one step; True if it is stored."""
        run = self.runs[run_id]
        inject = run.msel.inject(step.inject)
        incident = run.incident_for(inject)
        to = self.addressees(inject.to)
        exercise = run.msel.name

        def record(db: sqlite3.Connection, entry: Entry) -> None:
            # in the entry's transaction: a step the controller withdrew while it was
            # being prepared (ENDEX, pause, skip during an upload) is not stored at all
            if step not in self.runs[run_id].due(self.node.now_ms()):
                raise StepWithdrawn(step.inject)
            runs.step_done(db, run_id, inject.id, step.index, entry.id)

        key = (run_id, inject.id, step.index)
        try:
            if step.attachment is None:
                body = inject.body(None if inject.kind is InjectKind.INCIDENT else incident)
                assert body is not None, "a step 0 has a body"
                entry = self.node.write(body, exercise, None, to, record)
            else:
                assert incident is not None, "attachments go to an opened incident"
                path = self.folders[run_id] / step.attachment
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                entry = await self.node.media.upload(incident, path.name, mime, _read(path), exercise, None, record, to)
        except StepWithdrawn:
            return False
        except (WriteRefused, StorageFailed, ProtocolError, OSError) as exc:
            first = key not in self._retry_at
            self._retry_at[key] = self.node.now_ms() + limits.conduct_retry_ms
            if first:  # once per step, not every retry
                log.warning(
                    "inject step not released; tried again every few seconds",
                    extra={"run": run_id, "inject": inject.id, "step": step.index, "error": str(exc)[:200]},
                )
            return False
        self._retry_at.pop(key, None)
        self.runs[run_id].done[(inject.id, step.index)] = entry.id
        log.info("inject released", extra={"run": run_id, "inject": inject.id, "step": step.index})
        return True


class StepWithdrawn(Exception):
    """A release step the controller withdrew while it was being written."""


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while data := await trio.to_thread.run_sync(file.read, limits.chunk_bytes_max):
            yield data


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"
