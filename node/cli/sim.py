"""`qroc sim`: resilience testing (the code lives in simulations/)."""

import json
import sys
from pathlib import Path

import click
import trio

from .common import fail, guarded


@click.group()
def sim() -> None:
    """Simulate the federation under faults."""


@sim.command("run")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report directory")
@click.option("--seed", default=1, show_default=True, help="Seed for media contents and link jitter")
@click.option("--netns", is_flag=True, help="Each node in its own network namespace, faults by the kernel (root)")
@guarded
def run(scenario: Path, out: Path, seed: int, netns: bool) -> None:
    """Run SCENARIO on real node processes; exit 1 if a check fails."""
    from simulations.emulate import execute
    from simulations.netns import why_unavailable
    from simulations.scenario import ScenarioError, load

    try:
        plan = load(scenario)
    except ScenarioError as exc:
        fail(str(exc))
    if netns and (why := why_unavailable()):
        fail(f"--netns: {why}")
    try:
        report = trio.run(execute, plan, out, seed, True, netns)
    except ScenarioError as exc:
        fail(str(exc))
    verdict = "PASS" if report["ok"] else "FAIL"
    click.echo(f"{verdict}: {plan.name}; report in {out / 'report.md'}")
    for name, ok in report["checks"].items():
        if not ok:
            click.echo(f"  failed: {name}")
    sys.exit(0 if report["ok"] else 1)


@sim.command("exercise")
@click.argument("msel")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report directory")
@click.option("--nodes", type=click.IntRange(1, 64), help="Nodes to run (default: one per participant)")
@click.option("--speed", default=60.0, show_default=True, type=click.FloatRange(1, 600), help="Play time per wall time")
@click.option("--seed", default=1, show_default=True, help="Seed for the players' reaction times")
@guarded
def exercise(msel: str, out: Path, nodes: int | None, speed: float, seed: int) -> None:
    """Play MSEL (a shipped name, or an msel.toml path) on real nodes with simulated
    players and a link cut halfway; write the after-action report into --out."""
    from exercise.msel import MselError
    from simulations.exercise import plan_for
    from simulations.exercise import run as play

    try:
        plan = plan_for(msel, nodes, speed=speed, seed=seed)
    except (OSError, MselError) as exc:
        fail(f"{msel}: {exc}")
    summary = trio.run(play, plan, out)
    click.echo(json.dumps(summary, indent=1))
    click.echo(f"report: {out / 'report.html'}")


@sim.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def vopr(args: tuple[str, ...]) -> None:
    """Deterministic simulator of the protocol core (--help for its options)."""
    from simulations.vopr import main

    sys.exit(main(list(args)))
