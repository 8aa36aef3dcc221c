"""`qroc sim`: resilience testing (the code lives in simulations/)."""

import sys

import click


@click.group()
def sim() -> None:
    """Simulate the federation under faults."""


@sim.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def vopr(args: tuple[str, ...]) -> None:
    """Deterministic simulator of the protocol core (--help for its options)."""
    from simulations.vopr import main

    sys.exit(main(list(args)))
