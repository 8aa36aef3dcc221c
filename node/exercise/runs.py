"""The durable side of exercise runs: SQLite rows in the node's store (migration 3).

A run's phase and clock, its release steps and its decisions are rows; `load` rebuilds
each exercise.conduct.Run from them at start. Step rows are written by `step_done`
inside the transaction that stores the step's entry (Store.also), so a step is durable
exactly when its entry is.
"""

import logging
import sqlite3

from exercise.conduct import Phase, Run
from exercise.msel import Msel, MselError, parse

log = logging.getLogger("qroc.exercise")


def create(db: sqlite3.Connection, msel: Msel, data: bytes, speed: float, now_ms: int) -> int:
    added = db.execute(
        "INSERT INTO exercise_runs (name, msel, folder, phase, loaded_ms, speed) VALUES (?, ?, '', ?, ?, ?)",
        (msel.name, data, Phase.READY.value, now_ms, speed),
    )
    assert added.lastrowid is not None
    return added.lastrowid


def load(db: sqlite3.Connection) -> dict[int, tuple[Run, str]]:
    """Every run with the folder of its attachments."""
    out: dict[int, tuple[Run, str]] = {}
    rows = db.execute(
        "SELECT run, msel, folder, phase, started_ms, paused_total_ms, paused_at_ms, ended_ms, control, speed"
        " FROM exercise_runs ORDER BY run"
    )
    for run_id, data, folder, phase, started, paused_total, paused_at, ended, control, speed in rows.fetchall():
        try:
            msel = parse(data)
        except MselError as exc:  # stored by a version with looser rules: kept, not conducted
            log.error("a stored exercise run is set aside", extra={"run": run_id, "error": str(exc)[:200]})
            continue
        run = Run(msel, Phase(phase), started, paused_total, paused_at, ended, control, speed=speed)
        for inject, step, entry in db.execute(
            "SELECT inject, step, entry FROM exercise_steps WHERE run = ?", (run_id,)
        ):
            run.done[(inject, step)] = entry
        for inject, decision in db.execute("SELECT inject, decision FROM exercise_decisions WHERE run = ?", (run_id,)):
            (run.published if decision == "published" else run.skipped).add(inject)
        out[run_id] = (run, folder)
    return out


def set_folder(db: sqlite3.Connection, run_id: int, folder: str) -> None:
    db.execute("UPDATE exercise_runs SET folder = ? WHERE run = ?", (folder, run_id))


def save_phase(db: sqlite3.Connection, run_id: int, run: Run) -> None:
    db.execute(
        "UPDATE exercise_runs SET phase = ?, started_ms = ?, paused_total_ms = ?, paused_at_ms = ?, ended_ms = ?,"
        " control = ? WHERE run = ?",
        (run.phase.value, run.started_ms, run.paused_total_ms, run.paused_at_ms, run.ended_ms, run.control, run_id),
    )


def step_done(db: sqlite3.Connection, run_id: int, inject: str, step: int, entry: bytes) -> None:
    db.execute("INSERT INTO exercise_steps VALUES (?, ?, ?, ?)", (run_id, inject, step, entry))


def decided(db: sqlite3.Connection, run_id: int, injects: list[str], decision: str, now_ms: int) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO exercise_decisions VALUES (?, ?, ?, ?)",
        [(run_id, inject, decision, now_ms) for inject in injects],
    )
