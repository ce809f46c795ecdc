"""The architecture holds (ARCHITECTURE.md): dependencies point one way, imports sit at the top
of their module, and the code type-checks (strict where pyproject.toml says so)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["core", "runtime", "transport", "db", "marketcal", "ledger", "recon", "gateway", "broker", "venue_sim",
            "ops", "app"]
# Function-local imports that stay, each for a reason:
DOCUMENTED_LOCAL_IMPORTS = {
    ("marketcal/holidays.py", "exchange_calendars"): "pandas loads slowly and is only needed when seeding holidays",
}


def test_dependencies_point_one_way():
    """app -> ops -> gateway | broker | venue_sim -> recon -> ledger -> marketcal -> transport | db | runtime -> core
    (the contract is in pyproject.toml; import-linter reads every import, also inside functions)."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _local_imports(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    found.append((path.relative_to(ROOT).as_posix(), inner.module or ""))
                elif isinstance(inner, ast.Import):
                    found += [(path.relative_to(ROOT).as_posix(), alias.name) for alias in inner.names]
    return found


def test_imports_are_at_module_level_except_where_documented():
    local = [found for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             for found in _local_imports(path)]
    undocumented = [found for found in local if found not in DOCUMENTED_LOCAL_IMPORTS]
    assert not undocumented, f"function-local imports hide dependencies: {undocumented}"


def test_the_code_type_checks():
    """mypy over every package: strict for core, ledger, the gateway's domain and handlers, the broker."""
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
