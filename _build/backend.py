"""In-tree PEP 517 build backend: setuptools, plus the console's third-party assets.

The operator console's map must work offline, so its data (country outlines from Natural
Earth, via the npm package world-atlas) has to be inside the package. It is public data
that a registry ships, so it stays out of the git tree: this backend fetches every asset
listed in node/console/assets.toml before setuptools builds a wheel, an editable wheel or
an sdist, checks it against the registry's sha512 integrity, and extracts only the listed
files. Both README commands (`pip install .` and `pip install -e '.[test]'`) therefore
give a working map with no extra step. When all targets exist nothing is downloaded.

Run `python3 _build/backend.py` to fetch the assets into a checkout by hand.
Standard library only: this runs before any of our dependencies are installed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "node" / "console" / "assets.toml"
VENDOR = ROOT / "node" / "console" / "vendor"
TIMEOUT_S = 60.0

# Everything setuptools offers, unchanged unless it builds an artefact below.
__all__ = [
    "SetupRequirementsError",
    "__legacy__",
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist
get_requires_for_build_wheel = _setuptools.get_requires_for_build_wheel
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
# Metadata needs no assets: pip may call these before deciding to build at all.
prepare_metadata_for_build_wheel = _setuptools.prepare_metadata_for_build_wheel
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable
SetupRequirementsError = _setuptools.SetupRequirementsError
__legacy__ = _setuptools.__legacy__


class AssetError(RuntimeError):
    """An asset could not be fetched, did not match its integrity, or lacks a listed file."""


def _targets(asset: dict[str, Any]) -> dict[str, Path]:
    """Tarball member -> absolute target, refusing targets outside the vendor folder."""
    targets = {}
    for member, rel in asset["files"].items():
        target = (ROOT / rel).resolve()
        if not target.is_relative_to(VENDOR.resolve()):
            raise AssetError(f"{MANIFEST}: target {rel!r} of {asset['name']} is outside {VENDOR}")
        targets[member] = target
    return targets


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise AssetError(
            f"could not download {url} ({exc}); the build needs the npm registry, "
            "or put the files listed in node/console/assets.toml in place by hand"
        ) from exc


def _check_integrity(data: bytes, integrity: str, url: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise AssetError(f"{MANIFEST}: integrity of {url} must be sha512-…, not {algorithm}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise AssetError(f"{url}: sha512 is {actual}, assets.toml expects {expected}; refusing to extract")


def _extract(data: bytes, targets: dict[str, Path], url: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar, tempfile.TemporaryDirectory() as tmp:
        for member_name, target in targets.items():
            try:
                member = tar.getmember(member_name)
            except KeyError:
                raise AssetError(f"{url} has no member {member_name!r}") from None
            if not member.isfile():
                raise AssetError(f"{url}: {member_name!r} is not a regular file")
            # The "data" filter refuses absolute paths, "..", links and device files.
            tar.extract(member, tmp, filter="data")
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(f".{target.name}.part")
            staged.write_bytes((Path(tmp) / member_name).read_bytes())
            # Rename last, so that an interrupted build never leaves a half file that would
            # later count as present.
            os.replace(staged, target)


def ensure_assets(manifest: Path = MANIFEST) -> list[str]:
    """Fetch, verify and extract every asset whose targets are not all present.
    Returns the names of the assets that were fetched."""
    fetched = []
    for asset in tomllib.loads(manifest.read_text(encoding="utf-8"))["asset"]:
        targets = _targets(asset)
        if all(target.is_file() for target in targets.values()):
            continue
        url = asset["tarball"]
        data = _download(url)
        _check_integrity(data, asset["integrity"], url)
        _extract(data, targets, url)
        fetched.append(asset["name"])
    return fetched


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    ensure_assets()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    ensure_assets()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    ensure_assets()
    return _setuptools.build_sdist(sdist_directory, config_settings)


if __name__ == "__main__":
    names = ensure_assets()
    print(f"fetched: {', '.join(names)}" if names else "all assets present", file=sys.stderr)
