"""`qroc genesis …` and `qroc governance …`: found a federation, and change its roster.

The genesis is a file the founders pass round: one writes it from their cards (`new`),
each signs it with their own data dir (`sign`), and each installs the signed file
(`use`). Every later change is proposed and co-signed through a running node's API
(`qroc governance …`, with the node's bearer token) and is in force once a quorum
signed it: no file is edited.
"""

import json
from pathlib import Path
from typing import Any

import click

from protocol.charter import rotation_proof
from protocol.governance import Genesis, parse_quorum
from protocol.roster import Member

from ..datadir import DataDir, DataDirError, read_genesis, read_json, write_genesis
from .common import DATA_DIR, call_node, guarded

FILE = click.argument("genesis_file", type=click.Path(dir_okay=False, path_type=Path))


@click.group()
def genesis() -> None:
    """Found a federation: the founders' cards and quorum, signed by every founder."""


@genesis.command("new")
@FILE
@click.option("--card", "cards", multiple=True, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quorum", default="2/3", show_default=True, help="Share of current members a change needs.")
@guarded
def new(genesis_file: Path, cards: tuple[Path, ...], quorum: str) -> None:
    """Write an unsigned GENESIS_FILE from the founders' cards (`qroc member` prints one)."""
    if genesis_file.exists():
        raise DataDirError(f"{genesis_file} exists: refusing to overwrite a genesis")
    members = tuple(Member.from_card(read_json(card, "member card")) for card in cards)
    write_genesis(genesis_file, Genesis(members, parse_quorum(quorum)))
    click.echo(f"wrote {genesis_file}: {len(members)} founders, quorum {quorum}; every founder signs it next")


@genesis.command("sign")
@DATA_DIR
@FILE
@guarded
def sign(data_dir: Path, genesis_file: Path) -> None:
    """Add DATA_DIR's founder signature to GENESIS_FILE."""
    signed = read_genesis(genesis_file, check=False).signed_by(DataDir(data_dir).identity())
    write_genesis(genesis_file, signed)
    missing = ", ".join(m.name for m in signed.missing()) or "nobody: install it with 'qroc genesis use'"
    click.echo(f"signed {genesis_file}; still to sign: {missing}")


@genesis.command("use")
@DATA_DIR
@FILE
@click.option("--force", is_flag=True, help="Also for a data dir that has run (its log stays).")
@guarded
def use(data_dir: Path, genesis_file: Path, force: bool) -> None:
    """Install the signed GENESIS_FILE as DATA_DIR's federation (the node must be stopped)."""
    datadir = DataDir(data_dir)
    checked = read_genesis(genesis_file)
    if datadir.db_path.exists() and not force:
        raise DataDirError(f"{datadir.db_path} exists: this node has run in a federation already (see --force)")
    datadir.save_genesis(checked)
    click.echo(f"installed genesis {checked.id.hex()[:16]}… ({len(checked.members)} founders) in {data_dir}")


@genesis.command("show")
@DATA_DIR
@guarded
def show(data_dir: Path) -> None:
    """Print DATA_DIR's genesis: id, quorum and founders."""
    checked = DataDir(data_dir).genesis()
    click.echo(f"genesis {checked.id.hex()}  quorum {checked.quorum}")
    for m in sorted(checked.members, key=lambda m: (m.country, m.name)):
        click.echo(f"  {m.country}  {m.name:40s}  {m.peer_id}")


@click.group()
def governance() -> None:
    """Propose and co-sign roster changes through DATA_DIR's running node."""


def _show_proposal(p: dict[str, Any]) -> None:
    about = (p["card"] or p["member"] or {}).get("name") or p["quorum"] or ""
    signed = ", ".join(s["country"] or s["public_key"][:8] for s in p["signers"])
    click.echo(f"{p['id']}  {p['action']:<6} {about:<32} {p['status']:<11} {len(p['signers'])}/{p['needed']}  {signed}")


@governance.command("list")
@DATA_DIR
@guarded
def list_(data_dir: Path) -> None:
    """The roster in force, former keys and every proposal with its signatures."""
    state = call_node(data_dir, "GET", "/v1/governance").json()
    click.echo(f"version {state['version'][:16]}…  quorum {state['quorum']} ({state['threshold']} signatures)")
    for m in state["members"]:
        click.echo(f"  {m['country']}  {m['name']:40s}  {m['peer_id']}  {' '.join(m['addrs']) or '(no address)'}")
    for m in state["former"]:
        click.echo(f"  former {m['country']}  {m['name']}  {m['peer_id']}  last seq {m['last_seq']}")
    for p in state["proposals"]:
        _show_proposal(p)


def _propose(data_dir: Path, body: dict[str, Any]) -> None:
    _show_proposal(call_node(data_dir, "POST", "/v1/governance/proposals", json=body).json())


@governance.command("admit")
@DATA_DIR
@click.argument("card_file", type=click.Path(dir_okay=False, path_type=Path))
@guarded
def admit(data_dir: Path, card_file: Path) -> None:
    """Propose admitting the member whose card is CARD_FILE."""
    _propose(data_dir, {"action": "admit", "card": read_json(card_file, "member card")})


@governance.command("revoke")
@DATA_DIR
@click.argument("public_key")
@click.option("--last-seq", type=int, help="Its last accepted seq (default: the last this node holds).")
@guarded
def revoke(data_dir: Path, public_key: str, last_seq: int | None) -> None:
    """Propose revoking the member PUBLIC_KEY (hex): its later entries are refused everywhere."""
    _propose(data_dir, {"action": "revoke", "public_key": public_key, "last_seq": last_seq})


@governance.command("rule")
@DATA_DIR
@click.argument("quorum")
@guarded
def rule(data_dir: Path, quorum: str) -> None:
    """Propose a new quorum, e.g. 3/4."""
    _propose(data_dir, {"action": "rule", "quorum": quorum})


@governance.command("approve")
@DATA_DIR
@click.argument("proposal_id")
@guarded
def approve(data_dir: Path, proposal_id: str) -> None:
    """Co-sign PROPOSAL_ID (see `qroc governance list`)."""
    _show_proposal(call_node(data_dir, "POST", f"/v1/governance/proposals/{proposal_id}/approve").json())


@governance.command("address")
@DATA_DIR
@click.argument("addrs", nargs=-1, required=True)
@guarded
def address(data_dir: Path, addrs: tuple[str, ...]) -> None:
    """Announce where the others dial this member (replaces its card's addresses)."""
    call_node(data_dir, "POST", "/v1/governance/address", json={"addrs": list(addrs)})
    click.echo(f"announced {' '.join(addrs)}")


@governance.command("rotate")
@DATA_DIR
@guarded
def rotate(data_dir: Path) -> None:
    """Move this member to a new key (the handover is signed by the current one)."""
    result = call_node(data_dir, "POST", "/v1/governance/rotate").json()
    click.echo(f"handover {result['id']} written; new peer id {result['new_peer_id']}")
    click.echo("restart the node once every member holds it ('held_by' in qroc governance list)")


@governance.command("rotation-proof")
@DATA_DIR
@click.argument("old_public_key")
@guarded
def proof(data_dir: Path, old_public_key: str) -> None:
    """For a lost key: print DATA_DIR's (new) key and its signature over OLD_PUBLIC_KEY,
    for a member to propose with `qroc governance rotate-lost`."""
    try:
        old = bytes.fromhex(old_public_key)
    except ValueError:
        raise DataDirError("OLD_PUBLIC_KEY is 64 hex digits") from None
    identity = DataDir(data_dir).identity()
    click.echo(json.dumps({"new_key": identity.public_key.hex(), "proof": rotation_proof(identity, old).hex()}))


@governance.command("rotate-lost")
@DATA_DIR
@click.argument("old_public_key")
@click.argument("new_key")
@click.argument("proof")
@click.option("--last-seq", type=int, help="The old key's last accepted seq (default: the last this node holds).")
@guarded
def rotate_lost(data_dir: Path, old_public_key: str, new_key: str, proof: str, last_seq: int | None) -> None:
    """Propose moving a member whose key is lost to NEW_KEY (needs a quorum)."""
    body = {"action": "rotate", "public_key": old_public_key, "new_key": new_key, "proof": proof, "last_seq": last_seq}
    _propose(data_dir, body)
