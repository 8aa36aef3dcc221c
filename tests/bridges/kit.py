"""The standards kit (../shared/standards: the official XSDs, public examples and the
validator) as the bridge tests use it, from where it lies; never copied into the tree.

Found at $STANDARDS_KIT_DIR, else ../shared/standards beside the checkout. A machine
without it skips these tests, saying why, rather than passing them unchecked.
"""

import importlib.util
import os
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
KIT = Path(os.environ.get("STANDARDS_KIT_DIR") or ROOT.parent / "shared" / "standards")
needs_kit = pytest.mark.skipif(not (KIT / "validate.py").is_file(), reason=f"no standards kit at {KIT}")


@cache  # loading the schemas is the slow part: once per test run
def _validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("standards_validate", KIT / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def examples(standard: str, valid: bool = True) -> list[Path]:
    """The kit's public examples of a standard ('cap', 'edxlde', 'emsi', 'cot')."""
    folder = KIT / "examples" / standard / ("valid" if valid else "invalid")
    return sorted(p for p in folder.glob("*") if p.is_file())


def errors(standard: str, document: bytes) -> list[str]:
    """The kit validator's errors for a document (nested CAP/EMSI in EDXL-DE too): [] if valid."""
    validator = _validator()
    with tempfile.NamedTemporaryFile(suffix=".xml") as file:
        file.write(document)
        file.flush()
        result = validator.validate_file(standard, file.name)
    return list(result.errors)
