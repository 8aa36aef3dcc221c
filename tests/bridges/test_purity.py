from pathlib import Path

import bridges
from tests.protocol import test_purity as purity

# Bridges take documents as bytes and incidents as values: no files, no clock, no network.
FORBIDDEN = purity.FORBIDDEN | {"__import__", "pathlib", "urllib", "http"}


def test_bridges_import_nothing_that_does_io_or_reads_time():
    files = sorted(Path(bridges.__file__).parent.glob("*.py"))
    assert len(files) >= 3
    offenders = {f.name: sorted(purity.imported_modules(f) & FORBIDDEN) for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}
