"""`qroc media put|get`: move files through a running node's HTTP API, with progress."""

import mimetypes
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
from tqdm import tqdm

from .common import DATA_DIR, check_response, fail, guarded, node_api

BLOCK_BYTES = 256 * 1024


@click.group()
def media() -> None:
    """Share media (photos, video, audio) through a running node."""


@media.command("put")
@DATA_DIR
@click.argument("incident")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mime", help="MIME type (default: guessed from the file name)")
@click.option("--name", help="File name others see (default: the file's own)")
@guarded
def put(data_dir: Path, incident: str, file: Path, mime: str | None, name: str | None) -> None:
    """Attach FILE to INCIDENT; prints the media item once it is stored durably."""
    base, headers = node_api(data_dir)
    mime = mime or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    size = file.stat().st_size
    progress = tqdm(total=size, unit="B", unit_scale=True, desc=f"upload {file.name}", disable=None)

    def body() -> Iterator[bytes]:
        with open(file, "rb") as source:
            while block := source.read(BLOCK_BYTES):
                progress.update(len(block))
                yield block

    try:
        response = httpx.post(
            f"{base}/v1/incidents/{incident}/media",
            params={"name": name or file.name},
            content=body(),
            headers={**headers, "content-type": mime, "content-length": str(size)},
            timeout=None,
        )
    except httpx.TransportError as exc:
        fail(f"cannot reach the node at {base}: {exc}")
    finally:
        progress.close()
    check_response(response)
    click.echo(response.text)


@media.command("get")
@DATA_DIR
@click.argument("media_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@guarded
def get(data_dir: Path, media_id: str, out: Path) -> None:
    """Save media item MEDIA_ID to OUT (once this node holds all of it)."""
    base, headers = node_api(data_dir)
    tmp = out.with_name(f".{out.name}.part")
    try:
        with httpx.stream("GET", f"{base}/v1/media/{media_id}", headers=headers, timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                check_response(response)
            total = int(response.headers.get("content-length", 0)) or None
            with (
                open(tmp, "wb") as sink,
                tqdm(total=total, unit="B", unit_scale=True, desc=f"download {out.name}", disable=None) as bar,
            ):
                for block in response.iter_bytes(BLOCK_BYTES):
                    sink.write(block)
                    bar.update(len(block))
    except httpx.TransportError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot reach the node at {base}: {exc}")
    tmp.replace(out)
    click.echo(f"saved {out} ({out.stat().st_size} bytes, sha256 {response.headers.get('etag', '?').strip(chr(34))})")
