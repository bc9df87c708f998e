"""``report.html`` of an optimization run, written from its CSV logs (a reader, not part of the loop)."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from rdkit import Chem
from rdkit.Chem import Draw

from chemloop.rl.oracle_log import read_scores, read_sources


def _curve_svg(scores: list[float], width: int = 640, height: int = 240) -> str:
    """Best-so-far and top-10 mean against oracle calls, as an inline SVG."""
    best, top, running = [], [], []
    for s in scores:
        running = sorted([*running, s], reverse=True)[:10]
        best.append(running[0])
        top.append(sum(running) / len(running))
    n = max(1, len(scores) - 1)

    def points(values: list[float]) -> str:
        return " ".join(
            f"{40 + i * (width - 50) / n:.1f},{height - 20 - v * (height - 30):.1f}"
            for i, v in enumerate(values)
        )

    return (
        f'<svg width="{width}" height="{height}" style="border:1px solid #ccc">'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{points(best)}"/>'
        f'<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="{points(top)}"/>'
        f'<text x="45" y="15" font-size="12">blue: best so far, orange: top-10 mean; '
        f"x: oracle calls 1–{len(scores)}, y: score 0–1</text></svg>"
    )


def _source_share(sources: list[str], bins: int = 20) -> list[tuple[int, int, float]]:
    """The share of GA offspring among the calls, in ``bins`` consecutive windows of calls:
    (first call, last call, share) each."""
    size = max(1, -(-len(sources) // bins))  # ceiling: at most ``bins`` windows
    windows = [(start, sources[start : start + size]) for start in range(0, len(sources), size)]
    return [(start + 1, start + len(w), w.count("ga") / len(w)) for start, w in windows]


def _source_svg(sources: list[str], width: int = 640, height: int = 160) -> str:
    """Where the molecules came from over the run: the GA's share of each window of calls, as bars."""
    windows = _source_share(sources)
    bar = (width - 50) / max(1, len(windows))
    bars = "".join(
        f'<rect x="{40 + i * bar:.1f}" y="{height - 20 - share * (height - 30):.1f}" width="{bar * 0.9:.1f}" '
        f'height="{share * (height - 30):.1f}" fill="#2ca02c"><title>calls {first}–{last}: '
        f"{share:.0%} GA offspring</title></rect>"
        for i, (first, last, share) in enumerate(windows)
    )
    return (
        f'<svg width="{width}" height="{height}" style="border:1px solid #ccc">{bars}'
        f'<text x="45" y="15" font-size="12">green: share of GA offspring per window of calls '
        f"(the rest sampled by the agent); x: oracle calls 1–{len(sources)}, y: share 0–1</text></svg>"
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


def write_report(run: str | Path, top_n: int = 12) -> Path:
    run = Path(run)
    scores = read_scores(run / "oracle_calls.csv")
    sources = read_sources(run / "oracle_calls.csv")
    with (run / "oracle_calls.csv").open() as handle:
        calls = list(csv.DictReader(handle))
    ranked = sorted(calls, key=lambda c: float(c["score"]) if c["score"] != "nan" else -1, reverse=True)[
        :top_n
    ]
    mols = [Chem.MolFromSmiles(c["smiles"]) for c in ranked]
    grid = (
        Draw.MolsToGridImage(
            mols,
            molsPerRow=4,
            subImgSize=(220, 180),
            useSVG=True,
            legends=[f"{float(c['score']):.3f}" for c in ranked],
        )
        if mols
        else ""
    )
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>chemloop run {
        html.escape(run.name)
    }</title>
<style>body{{font-family:sans-serif;margin:2em}} td{{padding:2px 8px}}</style></head><body>
<h1>Optimization run: {html.escape(run.name)}</h1>
<p>{len(calls)} oracle calls; {html.escape(", ".join(f"{k}: {v}" for k, v in summary.items()))}</p>
<h2>Score against oracle calls</h2>{_curve_svg(scores)}
{_sources_section(sources, [c.get("source") or "agent" for c in ranked])}
<h2>Top {len(ranked)} molecules</h2>{grid}
<table>{
        "".join(
            f"<tr><td>{i}</td><td>{html.escape(c['smiles'])}</td><td>{float(c['score']):.4f}</td>"
            f"<td>{html.escape(c.get('source') or 'agent')}</td></tr>"
            for i, c in enumerate(ranked, start=1)
        )
    }</table>
</body></html>"""
    path = run / "report.html"
    path.write_text(page)
    return path
