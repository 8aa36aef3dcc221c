"""`qroc exercise …`: conduct an exercise through the controller's running node, and get
after-action reports. Every command speaks the node's HTTP API (/v1/conduct)."""

import base64
import json
from pathlib import Path
from typing import Any

import click

from .common import DATA_DIR, call_node, fail, guarded


def _show(run: dict[str, Any]) -> None:
    play, duration = run["play_ms"] // 1000, run["duration_ms"] // 1000
    click.echo(f"run {run['run']}: {run['name']} ({run['title']}): {run['phase']}, play {play // 60}:{play % 60:02d}")
    click.echo(f"  of {duration // 60}:{duration % 60:02d}, speed {run['speed']:g}")
    for inject in run["injects"]:
        at = inject["at_ms"] // 1000
        to = ",".join(inject["to"])
        click.echo(f"  {inject['id']:<6} {at // 60:>3}:{at % 60:02d} {inject['state']:<10} {inject['kind']:<8} {to}")


@click.group()
def exercise() -> None:
    """Conduct tabletop exercises (the controller's node) and write their reports."""


@exercise.command("msels")
@DATA_DIR
@guarded
def msels(data_dir: Path) -> None:
    """List the MSELs shipped with the node."""
    for name in call_node(data_dir, "GET", "/v1/conduct/msels").json()["msels"]:
        click.echo(name)


@exercise.command("load")
@DATA_DIR
@click.argument("msel")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(1, 600), help="Play time per wall time")
@guarded
def load(data_dir: Path, msel: str, speed: float) -> None:
    """Load MSEL (a shipped name, or a path to an msel.toml with its files/ beside it)."""
    path = Path(msel)
    if path.is_file():
        folder = path.parent
        files = {
            str(p.relative_to(folder)): base64.b64encode(p.read_bytes()).decode()
            for p in sorted(folder.glob("files/*"))
            if p.is_file()
        }
        body: dict[str, Any] = {"msel": path.read_text(), "files": files, "speed": speed}
    else:
        body = {"shipped": msel, "speed": speed}
    _show(call_node(data_dir, "POST", "/v1/conduct", json=body).json())


@exercise.command("status")
@DATA_DIR
@click.argument("run", type=int, required=False)
@guarded
def status(data_dir: Path, run: int | None) -> None:
    """Show one run (or every run): phase, play time, each inject's state."""
    if run is not None:
        _show(call_node(data_dir, "GET", f"/v1/conduct/{run}").json())
        return
    for one in call_node(data_dir, "GET", "/v1/conduct").json()["runs"]:
        _show(one)


def _phase_command(action: str, help_text: str) -> None:
    @exercise.command(action, help=help_text)
    @DATA_DIR
    @click.argument("run", type=int)
    @guarded
    def command(data_dir: Path, run: int) -> None:
        _show(call_node(data_dir, "POST", f"/v1/conduct/{run}/{action}").json())


def _inject_command(decision: str, help_text: str) -> None:
    @exercise.command(decision, help=help_text)
    @DATA_DIR
    @click.argument("run", type=int)
    @click.argument("inject")
    @guarded
    def command(data_dir: Path, run: int, inject: str) -> None:
        _show(call_node(data_dir, "POST", f"/v1/conduct/{run}/injects/{inject}/{decision}").json())


_phase_command("start", "STARTEX: open the control incident; injects follow on time.")
_phase_command("pause", "Hold every inject still to come.")
_phase_command("resume", "Resume play; what is still to come shifts by the pause.")
_phase_command("end", "ENDEX: release nothing more.")
_inject_command("publish", "Release INJECT now, ahead of its time.")
_inject_command("skip", "Never release INJECT (nor, for an incident, the injects about it).")


@exercise.command("report")
@DATA_DIR
@click.argument("run", type=int, required=False)
@click.option("--incident", help="A report for this incident (any incident, real ones too) instead of a run")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory to write to")
@guarded
def report(data_dir: Path, run: int | None, incident: str | None, out: Path) -> None:
    """Write the after-action report of RUN (or of --incident) as report.json and report.html."""
    if (run is None) == (incident is None):
        fail("give a RUN or --incident, not both")
    base = f"/v1/conduct/{run}" if run is not None else f"/v1/incidents/{incident}"
    out.mkdir(parents=True, exist_ok=True)
    figures = call_node(data_dir, "GET", f"{base}/report.json").json()
    (out / "report.json").write_text(json.dumps(figures, indent=1))
    (out / "report.html").write_bytes(call_node(data_dir, "GET", f"{base}/report.html").content)
    for oc in figures["per_oc"]:
        delivery, ack = oc["delivery"] or {}, oc["acknowledgement"] or {}
        click.echo(
            f"{oc['country']}: {oc['delivered']}/{oc['targeted']} delivered (p50 {delivery.get('p50_ms')} ms,"
            f" p99 {delivery.get('p99_ms')} ms), {oc['acknowledged']} acknowledged (p50 {ack.get('p50_ms')} ms)"
        )
    click.echo(f"wrote {out / 'report.json'} and {out / 'report.html'}")
