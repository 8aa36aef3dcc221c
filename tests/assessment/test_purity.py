from pathlib import Path

import assessment
from tests.protocol import test_purity as purity


def test_assessment_imports_nothing_that_does_io_or_reads_time():
    files = sorted(Path(assessment.__file__).parent.glob("*.py"))
    assert len(files) >= 4
    offenders = {f.name: sorted(purity.imported_modules(f) & (purity.FORBIDDEN | {"__import__"})) for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}
