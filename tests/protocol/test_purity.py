import ast
from pathlib import Path

import protocol

FORBIDDEN = {"trio", "libp2p", "sqlite3", "socket", "time", "random", "os", "asyncio", "threading", "subprocess"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")
    return names


def test_protocol_imports_nothing_that_does_io_or_reads_time():
    files = sorted(Path(protocol.__file__).parent.glob("*.py"))
    assert len(files) > 5
    offenders = {str(f.name): sorted(imported_modules(f) & (FORBIDDEN | {"__import__"})) for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}
