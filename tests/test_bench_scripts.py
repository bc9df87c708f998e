"""The scripts in bench/ import chemloop inside their functions, where a renamed function would
only fail when someone next runs the benchmark: every name they import must exist."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _chemloop_imports(script: Path) -> list[tuple[str, str]]:
    tree = ast.parse(script.read_text())
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "chemloop"
        for alias in node.names
    ]


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_a_bench_script_imports_only_names_chemloop_has(script):
    missing = []
    for module_name, name in _chemloop_imports(script):
        module = importlib.import_module(module_name)
        if not hasattr(module, name) and importlib.util.find_spec(f"{module_name}.{name}") is None:
            missing.append(f"{module_name}.{name}")
    assert not missing, f"{script.name} imports names chemloop no longer has: {missing}"


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    script = tmp_path / "stale.py"
    script.write_text("def main():\n    from chemloop.train.pretrain import no_such_function\n")
    assert _chemloop_imports(script) == [("chemloop.train.pretrain", "no_such_function")]
