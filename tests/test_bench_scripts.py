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


def test_the_open_campaign_table_adds_baseline_columns_and_leaves_out_an_empty_base():
    spec = importlib.util.spec_from_file_location("open_campaign_table", BENCH / "open_campaign_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    def arm(hits, best):
        return {"top1_hits": hits, "best_measured": best}

    new = {
        ("qed", 0): {
            "chemloop": arm(8, 0.9),
            "random": arm(1, 0.5),
            "greedy": arm(3, 0.7),
            "screen": arm(4, 0.8),
        }
    }
    plain = script.table({}, new)
    assert plain[0] == "| task, seed | new: hits, best | screening: hits, best | new vs screening |"
    assert plain[2] == "| qed, 0 | 8, 0.900 | 4, 0.800 | 2.0× |"
    wide = script.table({("qed", 0): {"chemloop": arm(6, 0.85)}}, new, baselines=True)
    assert wide[2] == "| qed, 0 | 8, 0.900 | 6, 0.850 | 1, 0.500 | 3, 0.700 | 4, 0.800 | 2.0× |"
    assert wide[1].count("---") == 7 and wide[-1] == "qed: hits 8 new, 6 base, 4 screening"
