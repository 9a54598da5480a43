"""Two comparisons of the same run, cell by cell: does what changed between them (the synthetic set, say) help?

Both folders come from `ganaug compare` on the same run with the same seeds, so a strategy-ratio-seed cell
in one differs from its twin in the other only by what was changed, and differences are paired by seed.
Cells that only one folder has are left out. Writes <A>/vs_<B>.md and prints it.

    python benchmarks/compare_pair.py results/compare/mnist5k-50-filtered results/compare/mnist5k-50
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ganaug.io import read_json, write_text
from ganaug.stages.compare.stats import paired_difference


def pair(a: pd.DataFrame, b: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    rows = []
    for (strategy, ratio), group in a.groupby(["strategy", "ratio"], sort=False):
        twin = b[(b["strategy"] == strategy) & (b["ratio"] == ratio)]
        if twin.empty:
            continue
        ours, theirs = group.set_index("seed")[metric], twin.set_index("seed")[metric]
        seeds = ours.index.intersection(theirs.index)
        rows.append({"strategy": strategy, "ratio": ratio, "seeds": len(seeds), "a": ours[seeds].mean(),
                     "b": theirs[seeds].mean(),
                     **paired_difference(ours, theirs, "b")})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if read_json(args.a / "compare.json")["settings"]["run"] != read_json(args.b / "compare.json")["settings"]["run"]:
        raise SystemExit(f"error: {args.a} and {args.b} compare different runs; pair folders made from one run")
    table = pair(pd.read_csv(args.a / "runs.csv"), pd.read_csv(args.b / "runs.csv"))
    lines = [f"# {args.a.name} against {args.b.name}, paired by seed\n",
             f"Made by `python benchmarks/compare_pair.py {args.a} {args.b}`. Test accuracy (%), mean over the "
             "seeds both have; the difference is A - B (paired t-test, * = p < 0.05).\n",
             f"| strategy | ratio | seeds | {args.a.name} (A) | {args.b.name} (B) | A - B |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in table.itertuples():
        star = "*" if r.significant_vs_b else ""
        lines.append(f"| {r.strategy} | {r.ratio:g} | {r.seeds} | {r.a * 100:.2f} | {r.b * 100:.2f} "
                     f"| {r.vs_b * 100:+.2f}{star} (p={r.p_vs_b:.2g}) |")
    write_text(args.a / f"vs_{args.b.name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
