"""Collect every setting under results/compare/ into one overview table (results/compare/overview.md).

For each setting: the real-data references, the best GAN strategy without and with classical
augmentation, and its paired difference to baseline and to classic. "Best" is chosen by mean
*validation* accuracy, not test accuracy, so that picking one of many strategy-ratio pairs does not
flatter the test figure.

    python benchmarks/compare_report.py [--root results/compare]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from ganaug.io import read_json, write_text
from ganaug.runs.quality import QualityReport
from ganaug.stages.compare.grid import CAS, is_classical


def describe(summary: pd.DataFrame) -> dict:
    by = summary.set_index(["strategy", "ratio"])
    gan = summary[~summary["strategy"].map(is_classical) & (summary["strategy"] != CAS)]
    has_classic = gan["strategy"].str.contains(r"\+classic")
    plain, with_classic = gan[~has_classic], gan[has_classic]
    out = {"baseline": by.loc[("baseline", 0.0)], "classic": by.loc[("classic", 0.0)] if ("classic", 0.0) in by.index
           else None, "cas": summary[summary["strategy"] == "cas"]}
    out["best"] = plain.loc[plain["val_accuracy"].idxmax()] if len(plain) else None
    out["best_classic"] = with_classic.loc[with_classic["val_accuracy"].idxmax()] if len(with_classic) else None
    return out


def strategy_cell(best: pd.Series | None) -> str:
    """'strategy xratio: accuracy' for the best strategy-ratio pair of a setting, or '-' where it has none."""
    return "-" if best is None else f"{best['strategy']} x{format(best['ratio'], 'g')}: {pct(best['mean'])}"


def pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.2f}"


def diff(row: pd.Series, name: str) -> str:
    value, p = row.get(f"vs_{name}"), row.get(f"p_vs_{name}")
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:+.2f} (p={p:.2g}{', significant' if p < 0.05 else ''})"


LABELLINGS = ("extra", "argmax", "argmax-dynamic", "uniform", "conditional", "soft")


def ordering(summaries: dict[str, pd.DataFrame]) -> list[str]:
    """Each labelling at the ratio its validation accuracy prefers: the paper's claim is uniform (LSRO) >
    argmax (pseudo label) > extra; `+classic` rows answer whether the ordering survives classical augmentation."""
    lines = ["", "Each labelling at its best ratio by validation: test accuracy (%) and, in brackets, the paired "
             "difference in points to baseline (plain rows) or to classic (`+classic` rows); * marks p < 0.05.\n",
             "| labelling | " + " | ".join(summaries) + " |", "| --- |" + " ---: |" * len(summaries)]
    for name, versus in [(n, "baseline") for n in LABELLINGS] + [(f"{n}+classic", "classic") for n in LABELLINGS]:
        cells = []
        for summary in summaries.values():
            rows = summary[summary["strategy"] == name]
            if rows.empty:
                cells.append("-")
                continue
            row = rows.loc[rows["val_accuracy"].idxmax()]
            star = "*" if row[f"p_vs_{versus}"] < 0.05 else ""
            cells.append(f"x{row['ratio']:g}: {pct(row['mean'])} ({row[f'vs_{versus}'] * 100:+.2f}{star})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="results/compare")
    root = Path(parser.parse_args(argv).root)
    lines = ["# GAN augmentation: overview of every setting\n",
             "Test accuracy (%), mean ± std over seeds; differences paired by seed (paired t-test). The best "
             "strategy-ratio pair is the one with the highest mean validation accuracy.\n",
             "| setting | seeds | baseline | classic | best GAN strategy | vs baseline | best GAN+classic | vs classic "
             "| CAS |",
             "| --- | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |"]
    summaries = {p.parent.name: pd.read_csv(p) for p in sorted(root.glob("*/summary.csv"))}
    for setting, summary in summaries.items():
        s = describe(summary)
        b, c, best, bc = s["baseline"], s["classic"], s["best"], s["best_classic"]
        cas = f"{pct(s['cas']['mean'].iloc[0])}" if len(s["cas"]) else "-"
        lines.append(
            f"| {setting} | {int(b['seeds'])} | {pct(b['mean'])} ± {pct(b['std'])} "
            f"| {pct(c['mean']) + ' ± ' + pct(c['std']) if c is not None else '-'} "
            f"| {strategy_cell(best)} | {diff(best, 'baseline') if best is not None else '-'} "
            f"| {strategy_cell(bc)} "
            f"| {diff(bc, 'classic') if bc is not None else '-'} | {cas} |")
    lines += ordering(summaries)
    qualities = [root / s for s in summaries if (root / s / "synthetic_quality.json").is_file()]
    if qualities:
        lines += ["", "Quality of the synthetic set each setting used (`synthetic_quality.json`, as `ganaug evaluate` "
                  "measures it: teacher features, against the validation split):\n",
                  "| setting | images | FID | precision | recall | coverage | near-copies (held-out real) "
                  "| label agreement |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for folder in qualities:
        q = QualityReport.from_json(read_json(folder / "synthetic_quality.json"))
        mem = q.memorisation
        agreement = f"{q.label_agreement.overall * 100:.1f}%" if q.label_agreement is not None else "-"
        lines.append(f"| {folder.name} | {q.generated} | {q.fid:.2f} | {q.precision:.3f} | {q.recall:.3f} "
                     f"| {q.coverage:.3f} | {mem.generated_near_copy_fraction * 100:.1f}% "
                     f"({mem.heldout_near_copy_fraction * 100:.1f}%) | {agreement} |")
    write_text(root / "overview.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
