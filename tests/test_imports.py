"""The import graph: every module of app/ imports on its own, and app never imports jobs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


# Run in a fresh interpreter: it imports the third-party libraries once (none of app or jobs),
# then forks a child per module, which imports that module first. A child sees no module of ours
# that another one loaded, so a cycle cannot hide behind an earlier import; the fork makes it a
# few seconds instead of a fresh interpreter per module (minutes on a busy machine).
_ISOLATED = """
import importlib, os, sys
names, third_party = sys.argv[1].split(","), sys.argv[2].split(",")
for lib in third_party:
    try:
        importlib.import_module(lib)
    except Exception:
        pass
failed = []
for name in names:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException as exc:
            print(f"{name}: {type(exc).__name__}: {exc}", flush=True)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(name)
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first_in_a_fresh_interpreter():
    """Imported first, on its own, no module of app/ or jobs/ trips over an import cycle."""
    names = _modules("app") + _modules("jobs")
    ours = ("app", "jobs")
    third_party = sorted(
        {
            name
            for package in ours
            for path in (ROOT / package).rglob("*.py")
            for name in _imported(path)
            if name.split(".")[0] not in ours
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", _ISOLATED, ",".join(names), ",".join(third_party)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def _imported(path: Path) -> set[str]:
    """Every module an import statement in this file names, at any depth (lazy ones too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_app_never_imports_jobs():
    """jobs/ (the scheduler process) imports app; app must not import it back."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported(path) if name == "jobs" or name.startswith("jobs.")
        )
        for path in sorted((ROOT / "app").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}
