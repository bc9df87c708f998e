"""``report.html`` of an optimization run, written from its CSV logs (a reader, not part of the loop).

One self-contained page: the run's outcome as a table, the score against oracle calls (axes with
ticks and titles), where the molecules came from (GA runs), the top molecules (one table: the
drawing, the SMILES, the score and each component's value that made it), and the config as tables.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from chemloop.chem.depict import svg as depiction
from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import try_mol
from chemloop.rl.oracle_log import read_scores, read_sources

WIDTH, HEIGHT = 640, 260
# Room for tick labels (the last, "10,000", centred on the right end) and the axis titles.
LEFT, RIGHT, TOP, BOTTOM = 56, 28, 12, 44
DRAWING = (250, 190)  # pixels of each top molecule's drawing

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1d2430; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #d8dde5; padding: 3px 8px; text-align: left; vertical-align: middle; }
th { background: #f4f6f9; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.smiles { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; word-break: break-all;
  max-width: 16em; }
.raw { color: #5b6472; font-size: 0.85em; }
svg text { font-size: 11px; fill: #5b6472; }
svg text.title { font-size: 12px; fill: #1d2430; }
.legend span { display: inline-block; width: 1.2em; height: 3px; vertical-align: middle;
  margin: 0 0.3em 0 1em; }
"""

SUMMARY_LABELS = {  # summary.json keys as a reader names them, in the order shown
    "oracle_calls": "Oracle calls",
    "steps": "Agent steps",
    "stopped_by": "Stopped by",
    "best": "Best score",
    "top10_mean": "Mean of the top 10",
    "unique_scaffolds": "Distinct Murcko scaffolds",
    "ga_offspring_calls": "Calls on GA offspring",
    "last_step_validity": "Valid SMILES in the last step",
    "seconds_this_invocation": "Wall time of this invocation (s)",
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return _e("–" if value is None else value)
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return _e(value)


def _axes(x_max: int, y_label: str, x_label: str, width: int, height: int) -> str:
    """Axis lines, ticks every quarter, and both axis titles of a plot with x from 1 to ``x_max`` and
    y from 0 to 1."""
    bottom, right = height - BOTTOM, width - RIGHT
    parts = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#1d2430"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#1d2430"/>',
    ]
    for i in range(5):
        y = bottom - i / 4 * (bottom - TOP)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e6e9ee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{i / 4:.2f}</text>')
        calls = max(1, round(1 + i / 4 * (x_max - 1)))
        x = LEFT + (calls - 1) / max(1, x_max - 1) * (right - LEFT)
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#1d2430"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{calls:,}</text>')
    middle = (LEFT + right) / 2
    parts.append(f'<text class="title" x="{middle}" y="{height - 6}" text-anchor="middle">')
    parts.append(f"{_e(x_label)}</text>")
    parts.append(
        f'<text class="title" x="{-(TOP + bottom) / 2}" y="14" transform="rotate(-90)" '
        f'text-anchor="middle">{_e(y_label)}</text>'
    )
    return "".join(parts)


def _curve_svg(scores: list[float], width: int = WIDTH, height: int = HEIGHT) -> str:
    """Best-so-far and top-10 mean against oracle calls, as an inline SVG with labelled axes."""
    best, top, running = [], [], []
    for s in scores:
        running = sorted([*running, s], reverse=True)[:10]
        best.append(running[0])
        top.append(sum(running) / len(running))
    n = max(1, len(scores) - 1)
    bottom, span = height - BOTTOM, width - LEFT - RIGHT

    def points(values: list[float]) -> str:
        return " ".join(
            f"{LEFT + i * span / n:.1f},{bottom - min(max(v, 0.0), 1.0) * (bottom - TOP):.1f}"
            for i, v in enumerate(values)
        )

    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Score against oracle calls: best so far and mean of the top 10">'
        f"{_axes(len(scores), 'score (0–1)', 'oracle calls', width, height)}"
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{points(best)}"/>'
        f'<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="{points(top)}"/></svg>'
        '<p class="legend"><span style="background:#1f77b4"></span>best so far'
        '<span style="background:#ff7f0e"></span>mean of the top 10</p>'
    )


def _source_share(sources: list[str], bins: int = 20) -> list[tuple[int, int, float]]:
    """The share of GA offspring among the calls, in ``bins`` consecutive windows of calls:
    (first call, last call, share) each."""
    size = max(1, -(-len(sources) // bins))  # ceiling: at most ``bins`` windows
    windows = [(start, sources[start : start + size]) for start in range(0, len(sources), size)]
    return [(start + 1, start + len(w), w.count("ga") / len(w)) for start, w in windows]


def _source_svg(sources: list[str], width: int = WIDTH, height: int = 200) -> str:
    """Where the molecules came from over the run: the GA's share of each window of calls, as bars."""
    windows = _source_share(sources)
    bottom = height - BOTTOM
    bar = (width - LEFT - RIGHT) / max(1, len(windows))
    bars = "".join(
        f'<rect x="{LEFT + i * bar:.1f}" y="{bottom - share * (bottom - TOP):.1f}" width="{bar * 0.9:.1f}" '
        f'height="{share * (bottom - TOP):.1f}" fill="#2ca02c"><title>calls {first}–{last}: '
        f"{share:.0%} GA offspring</title></rect>"
        for i, (first, last, share) in enumerate(windows)
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Share of GA offspring per window of oracle calls">'
        f"{_axes(len(sources), 'share of GA offspring', 'oracle calls', width, height)}{bars}</svg>"
    )


def _sources_section(sources: list[str], ranked_sources: list[str]) -> str:
    """The report's section on where molecules came from; empty for a run without GA offspring."""
    ga = sources.count("ga")
    if not ga:
        return ""
    top = ranked_sources.count("ga")
    return (
        f"<h2>Where the molecules came from</h2><p>{ga} of {len(sources)} oracle calls "
        f"({ga / len(sources):.0%}) were GA offspring of the replay memory, the rest the agent's samples; "
        f"{top} of the top {len(ranked_sources)} molecules are GA offspring.</p>{_source_svg(sources)}"
    )


def _score(call: dict[str, str]) -> float:
    try:
        value = float(call["score"])
    except (TypeError, ValueError):
        return -1.0
    return -1.0 if value != value else value


def _drawing(smiles: str) -> str:
    mol = try_mol(smiles)
    if mol is None:
        return ""
    text = depiction(mol, *DRAWING)
    return text[text.find("<svg") :]  # inline in the page: without the XML prolog


def _components(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list((config.get("score") or {}).get("components") or [])


def _label(component: dict[str, Any]) -> str:
    return str(component.get("name") or component.get("type"))


def _top_table(ranked: list[dict[str, str]], labels: list[str], weights: dict[str, Any]) -> str:
    """The top molecules, one row each: drawing, SMILES, score, each component's transformed value
    (what the aggregate combines, 0–1) over its raw value, and where the molecule came from."""
    head = "".join(
        f'<th scope="col" class="num">{_e(label)}'
        f"{f'<br><span class=raw>weight {_e(weights[label])}</span>' if label in weights else ''}</th>"
        for label in labels
    )
    rows = []
    for rank, call in enumerate(ranked, start=1):
        cells = "".join(
            f'<td class="num">{_number(_float(call.get(label)))}<br>'
            f'<span class="raw">raw {_number(_float(call.get(f"{label}_raw")))}</span></td>'
            for label in labels
        )
        rows.append(
            f'<tr><td class="num">{rank}</td><td>{_drawing(call["smiles"])}</td>'
            f'<td class="smiles">{_e(call["smiles"])}</td><td class="num"><strong>{_number(_score(call))}'
            f"</strong></td>{cells}<td>{_e(call.get('source') or 'agent')}</td></tr>"
        )
    return (
        '<table><thead><tr><th scope="col" class="num">#</th><th scope="col">Structure</th>'
        f'<th scope="col">SMILES</th><th scope="col" class="num">Score</th>{head}'
        f'<th scope="col">Source</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _summary_table(summary: dict[str, Any], calls: int) -> str:
    shown = {"oracle_calls": calls, **summary}
    keys = [k for k in SUMMARY_LABELS if k in shown] + [k for k in shown if k not in SUMMARY_LABELS]
    rows = "".join(
        f'<tr><th scope="row">{_e(SUMMARY_LABELS.get(k, k))}</th>'
        f'<td class="num">{_number(shown[k])}</td></tr>'
        for k in keys
    )
    return f"<table><tbody>{rows}</tbody></table>"


def _compact(value: Any) -> str:
    """A config value in one short line (tables of params as key = value pairs)."""
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_compact(v)}" for k, v in value.items()) or "–"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return "–" if value is None else str(value)


def _config_tables(config: dict[str, Any]) -> str:
    """The run's settings as a key/value table and its scoring components as one row each."""
    if not config:
        return ""
    run = config.get("run") or {}
    run_rows = "".join(
        f'<tr><th scope="row">{_e(k)}</th><td>{_e(_compact(v))}</td></tr>' for k, v in run.items()
    )
    score = config.get("score") or {}
    component_rows = "".join(
        f"<tr><td>{_e(_label(c))}</td><td>{_e(c.get('type'))}</td>"
        f'<td class="num">{_e(c.get("weight", 1.0))}</td>'
        f"<td>{_e(_compact(c.get('transform')))}</td><td>{_e(_compact(c.get('params')))}</td>"
        f"<td>{'yes' if c.get('filter') else 'no'}</td></tr>"
        for c in _components(config)
    )
    return (
        "<h2>Configuration</h2>"
        f"<h3>Score: {_e(score.get('aggregate', 'geometric'))} mean of the transformed components</h3>"
        '<table><thead><tr><th scope="col">Component</th><th scope="col">Type</th>'
        '<th scope="col" class="num">Weight</th><th scope="col">Transform</th><th scope="col">Parameters</th>'
        f'<th scope="col">Filter</th></tr></thead><tbody>{component_rows}</tbody></table>'
        f"<h3>Run</h3><table><tbody>{run_rows}</tbody></table>"
    )


def _labels(calls: list[dict[str, str]], config: dict[str, Any]) -> list[str]:
    """The components' labels: from the config where there is one, else from the log's columns."""
    labels = [_label(c) for c in _components(config)]
    if labels or not calls:
        return labels
    return [c[: -len("_raw")] for c in calls[0] if c.endswith("_raw")]


def write_report(run: str | Path, top_n: int = 12) -> Path:
    run = Path(run)
    scores = read_scores(run / "oracle_calls.csv")
    sources = read_sources(run / "oracle_calls.csv")
    with (run / "oracle_calls.csv").open() as handle:
        calls = list(csv.DictReader(handle))
    shown = [c for c in calls if not is_withheld(c["smiles"])]  # the log never holds one; a guard anyway
    ranked = sorted(shown, key=_score, reverse=True)[:top_n]
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    labels = _labels(calls, config)
    weights = {_label(c): c.get("weight", 1.0) for c in _components(config)}
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>chemloop run {
        _e(run.name)
    }</title>
<style>{STYLE}</style></head><body>
<h1>Optimization run: {_e(run.name)}</h1>
<p>{len(calls)} oracle calls.</p>
{_summary_table(summary, len(calls))}
<h2>Score against oracle calls</h2>{_curve_svg(scores)}
{_sources_section(sources, [c.get("source") or "agent" for c in ranked])}
<h2>Top {len(ranked)} molecules</h2>
<p>Each component's transformed value (0–1, what the {
        _e((config.get("score") or {}).get("aggregate", "geometric"))
    } mean combines) over its raw value.</p>
{_top_table(ranked, labels, weights)}
{_config_tables(config)}
</body></html>"""
    path = run / "report.html"
    path.write_text(page)
    return path
