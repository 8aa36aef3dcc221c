from pathlib import Path

import exercise
from tests.protocol import test_purity as purity

# Nothing in exercise/ reads files either: the caller hands over the MSEL's bytes and sizes.
FORBIDDEN = purity.FORBIDDEN | {"__import__", "pathlib"}


def test_exercise_imports_nothing_that_does_io_or_reads_time():
    files = sorted(Path(exercise.__file__).parent.glob("*.py"))
    assert len(files) >= 2
    offenders = {f.name: sorted(purity.imported_modules(f) & FORBIDDEN) for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}
