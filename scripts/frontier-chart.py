"""The speed/accuracy frontier of several bundles of one model, as a chart.

    python scripts/frontier-chart.py BENCH_JSON OUT_PNG BUNDLE... [--a76 BUNDLE=LOG ...] [--a72 BUNDLE=LOG ...]

BENCH_JSON is ``edgeembed bench FIRST --compare SECOND ... --json`` over the same BUNDLEs (one
run, so speeds compare); each bundle's STS-B Spearman comes from its report.json (convert
``--eval``). ``--a76`` / ``--a72`` add a panel from ``scripts/arm64-bench.sh BUNDLE`` logs (run
with ``ARM64_CPU=cortex-a72`` for the second): emulated instructions per text at batch 1, the
first row of the log's ARM64_BENCH line.
Needs matplotlib (``edgeembed[plot]``). Prints the table it plots.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def bench_speeds(bench: dict, bundles: list[Path]) -> dict[Path, tuple[float, float]]:
    """texts/s at batch 1 and 32 per bundle; the first bundle is bench's own ("edgeembed")."""
    results = bench["results"]
    speeds = {}
    for index, bundle in enumerate(bundles):
        row = results["edgeembed"] if index == 0 else results[f"bundle {bundle.name}"]
        speeds[bundle] = (row["batch1_per_s"], row["batch32_per_s"])
    return speeds


def a76_counts(pairs: list[str]) -> dict[str, float]:
    counts = {}
    for pair in pairs:
        name, _, log = pair.partition("=")
        line = next(line for line in Path(log).read_text().splitlines() if line.startswith("ARM64_BENCH "))
        counts[Path(name).name] = json.loads(line.split(" ", 1)[1])["results"][0]["batch1_minsn_per_text"]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", type=Path)
    parser.add_argument("out_png", type=Path)
    parser.add_argument("bundles", type=Path, nargs="+")
    parser.add_argument("--a76", action="append", default=[], metavar="BUNDLE=LOG")
    parser.add_argument("--a72", action="append", default=[], metavar="BUNDLE=LOG")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speeds = bench_speeds(json.loads(args.bench_json.read_text()), args.bundles)
    cores = {"Cortex-A76 (Pi 5)": a76_counts(args.a76), "Cortex-A72 (Pi 4)": a76_counts(args.a72)}
    rows = []
    for bundle in args.bundles:
        report = json.loads((bundle / "report.json").read_text())
        if not report.get("sts"):
            raise SystemExit(f"{bundle}: its report has no STS figure; convert it with --eval STS.csv")
        layers = report.get("pruning", {}).get("layers_kept")
        label = f"{bundle.name} ({len(layers)} layers)" if layers else bundle.name
        counts = [counts.get(bundle.name) for counts in cores.values()]
        rows.append((label, report["sts"]["converted_spearman"], *speeds[bundle], *counts))
    print("bundle | STS-B | x86 b1 texts/s | x86 b32 texts/s | " + " | ".join(f"{c} M insn/text b1" for c in cores))
    for row in rows:
        print(" | ".join("" if value is None else f"{value:.5g}" if isinstance(value, float) else str(value) for value in row))
    panels = [("x86, batch 1: texts/s", 2), ("x86, batch 32: texts/s", 3)]
    for column, (core, counts) in enumerate(cores.items(), start=4):
        if counts:
            panels.append((f"emulated {core}, batch 1: texts per G instructions", column))
    import matplotlib.ticker

    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), sharey=True)
    for axis, (title, column) in zip(axes, panels, strict=True):
        for row in rows:
            if row[column] is None:
                continue
            x = 1000 / row[column] if column >= 4 else row[column]
            axis.scatter(x, row[1])
            axis.annotate(row[0], (x, row[1]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.margins(x=0.35, y=0.1)
        axis.set_title(title, fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("STS-B dev Spearman x100")
    figure.tight_layout()
    from edgeembed.atomic import atomic_write  # written whole or not at all

    atomic_write(args.out_png, lambda stream: figure.savefig(stream, format="png", dpi=110))
    print(f"wrote {args.out_png}")


if __name__ == "__main__":
    main()
