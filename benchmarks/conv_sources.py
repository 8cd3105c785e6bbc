"""Leave-one-out: do the shipped conv sources help the GloVe recommended model on small data?

Each shipped task is the target in turn; its sources are the conv sources
(``lightxfer/data/sources/conv_<task>.npz``, ``benchmarks/train_conv_sources.py``) of
the other tasks whose training texts share no text with the target's texts, the fair
pairs of ``benchmarks/shipped_sources.py`` (the conv sources are trained on the same
texts as the source heads). For each target, size (examples per class) and seed, every
model trains on the same sample of the target's training pool and is scored on the same
test texts:

- frozen GloVe + LR: ``make_classifier(head=<CV-tuned LR>)``, mean GloVe 6B 50d;
- GloVe recommended: ``make_classifier()``;
- GloVe recommended + conv sources: ``make_classifier(sources=[fair conv sources])``,
  the sources' features appended at the weight ``SourceBlocks`` validates (0 when they
  do not help); ``sources="auto"`` takes all five;
- transfer from conv_<task>: ``make_classifier(conv=<task>, head=<CV-tuned LR>)``, the
  frozen conv layer under a new head.

``--throughput`` measures the numpy conv layer's texts/s on one core instead.

Run from the repository root::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/conv_sources.py
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy
import shipped_sources

import lightxfer
from lightxfer import ConvLayer, make_classifier
from lightxfer.shared.conv_filters import read_filters
from lightxfer.source_models.shipped import NAMES

ROOT = Path(__file__).resolve().parents[1]
GLOVE_LR = "frozen GloVe + LR"
RECOMMENDED = "GloVe recommended"
WITH_CONV = "GloVe recommended + conv sources"
AUTO = "make_classifier(sources='auto')"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(NAMES), help="target tasks")
    parser.add_argument("--sizes", default="8,32,128", help="examples per class, or 'full'")
    parser.add_argument("--seeds", type=int, default=5, help="training samples per size")
    parser.add_argument("--test-rows", type=int, help="stratified cap on each test set")
    parser.add_argument(
        "--throughput", action="store_true", help="only measure conv texts/s (numpy, 1 core)"
    )
    parser.add_argument(
        "--timing",
        action="store_true",
        help="only time make_classifier() against make_classifier(sources='auto') (all five "
        "conv sources) side by side, fastest of 2 taking turns, on --targets, --sizes, --seeds",
    )
    parser.add_argument(
        "--rules",
        action="store_true",
        help="replay the rule that keeps the conv sources (half a standard error and others) "
        "on the same fits, scored on held-out training-pool texts (to choose) and the test "
        "set (to report)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="write the report from --work's rows"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/lightxfer-conv-sources"),
        help="every fit's row (a rerun resumes)",
    )
    parser.add_argument(
        "--reference-work",
        type=Path,
        help="rows of an earlier run with other conv sources (e.g. Kim's 100 maps per width), "
        "summarised beside these",
    )
    parser.add_argument(
        "--reference-label", default="100 maps per width", help="what the reference run differs by"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder"
    )
    return parser.parse_args(argv)


def methods_for(conv_sources):
    methods = {
        GLOVE_LR: lambda: make_classifier(head=accuracy._lr_cv()),
        RECOMMENDED: lambda: make_classifier(),
        WITH_CONV: lambda: make_classifier(sources=conv_sources),
    }
    for name in conv_sources:
        methods[f"transfer from {name}"] = lambda name=name: make_classifier(
            conv=name.removeprefix("conv_"), head=accuracy._lr_cv()
        )
    return methods


def throughput(args):
    """Texts/s of one conv source and of the five stacked (as in the recommended model)."""
    X = np.concatenate([accuracy.full_splits(None, "sst2", quick=False)[0][i] for i in (0, 2)])
    X = [str(text) for text in X]
    one = read_filters("conv_sst2")
    five = lightxfer.ConvFilters.stack([read_filters(f"conv_{n}") for n in NAMES])
    layers = {
        f"ConvLayer('sst2'), {one.n_features} features": ConvLayer(one, cache=False),
        f"the five conv sources as one layer, {five.n_features} features": ConvLayer(
            five, cache=False
        ),
        "EmbeddingVectorizer(), mean, for scale": lightxfer.EmbeddingVectorizer(cache=False),
    }
    rows = []
    for name, layer in layers.items():
        layer.fit(X[:100])
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            layer.transform(X)
            best = min(best, time.perf_counter() - start)
        rows.append({"layer": name, "texts": len(X), "texts_per_second": round(len(X) / best)})
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "conv_throughput.json").write_text(json.dumps(rows, indent=1) + "\n")


#: Standard errors a rule asks the sources to win by (SourceBlocks uses 0.5).
RULES = (0.0, 0.5, 1.0, 1.5, 2.0)


def replay_rules(args):
    """Fit each draw with the conv sources' weight forced to 0 and to 1, replay the rules.

    The model a rule picks is one of the two forced fits (the same features, the same
    search), so each rule's accuracy is read off them: on texts of the training pool the
    draw did not take (to choose a rule) and on the test set (to report it).
    """
    from lightxfer import EmbeddingVectorizer, SourceBlocks, ngram_search
    from lightxfer.recommended import make_recommended

    rows = []
    for target in [t.strip() for t in args.targets.split(",") if t.strip()]:
        X_pool, y_pool, X_test, y_test = accuracy.full_splits(None, target, quick=False)[0]
        leakage = shipped_sources.leakage_into(target, X_pool, X_test)
        sources = [f"conv_{s}" for s in shipped_sources.fair_sources(target, leakage)]
        for k in [int(s) for s in args.sizes.split(",")]:
            for seed in range(args.seeds):
                X, y = accuracy.sample_per_class(X_pool, y_pool, k, seed)
                rest = ~np.isin(X_pool, X)
                X_held, y_held = accuracy.cap(X_pool[rest], y_pool[rest], 1000, seed)
                scores = {}
                for weight in (0.0, 1.0):
                    blocks = SourceBlocks(EmbeddingVectorizer(), sources=sources, weight=weight)
                    model = make_recommended(shared=blocks).fit(X, y)
                    scores[weight] = {
                        "held_out": 100 * float(np.mean(model.predict(X_held) == y_held)),
                        "test": 100 * float(np.mean(model.predict(X_test) == y_test)),
                    }
                auto = SourceBlocks(EmbeddingVectorizer(), sources=sources).fit(X, y)
                table = pd.DataFrame(auto.cv_results_).groupby("weight")["accuracy"].max()
                splits = ngram_search.validation_splits(np.asarray(y), 3, 0)
                n_valid = ngram_search.n_validated(splits)
                row = {"target": target, "per_class": k, "seed": seed, "scores": scores}
                for rule in RULES:
                    chosen = ngram_search.lightest_good_weight(table.to_dict(), n_valid, rule)
                    row[f"weight at {rule} SE"] = chosen
                rows.append(row)
                print(json.dumps(row), flush=True)
    (args.out / "conv_rules.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "conv_rules.md").write_text(rules_markdown(rows))


def rules_markdown(rows):
    lines = [
        "**Which rule keeps the conv sources** (`--rules`: each draw fitted with the "
        "sources' weight forced to 0 and to 1; each rule picks one of the two fits from "
        "the validation scores `SourceBlocks` computes; gain over weight 0 in points, mean "
        "over targets, worst target in brackets; *held-out* is scored on up to 1,000 texts "
        "of the training pool the draw did not take, which is what a rule may be chosen on; "
        "*test* on the test set):",
        "",
        "| rule: sources kept when they win by | size | held-out gain (worst) | test gain (worst) "
        "| draws kept |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    frame = pd.DataFrame(rows)
    for rule in RULES:
        for k, part in frame.groupby("per_class"):
            gains = {"held_out": {}, "test": {}}
            for where in gains:
                per_target = {}
                for _, row in part.iterrows():
                    chosen = row[f"weight at {rule} SE"]
                    gain = row["scores"][chosen][where] - row["scores"][0.0][where]
                    per_target.setdefault(row["target"], []).append(gain)
                gains[where] = {t: np.mean(v) for t, v in per_target.items()}
            kept = np.mean([row[f"weight at {rule} SE"] > 0 for _, row in part.iterrows()])
            cells = [
                f"{np.mean(list(g.values())):+.2f} ({min(g.values()):+.1f})"
                for g in (gains["held_out"], gains["test"])
            ]
            lines.append(f"| {rule} SE | {k} | {cells[0]} | {cells[1]} | {kept:.0%} |")
    return "\n".join(lines) + "\n"


def time_auto(args):
    """Fit seconds of the recommended model without and with ``sources="auto"``, per draw."""
    rows = []
    for target in [t.strip() for t in args.targets.split(",") if t.strip()]:
        X_pool, y_pool, _, _ = accuracy.full_splits(None, target, quick=False)[0]
        for k in [int(s) for s in args.sizes.split(",")]:
            for seed in range(args.seeds):
                X, y = accuracy.sample_per_class(X_pool, y_pool, k, seed)
                builds = {
                    RECOMMENDED: make_classifier,
                    AUTO: lambda: make_classifier(sources="auto"),
                }
                best = dict.fromkeys(builds, np.inf)
                for _ in range(2):
                    for method, build in builds.items():
                        start = time.perf_counter()
                        build().fit(X, y)
                        best[method] = min(best[method], time.perf_counter() - start)
                rows.append({"target": target, "per_class": k, "seed": seed, **best})
                print(json.dumps(rows[-1]), flush=True)
    (args.out / "conv_timing.json").write_text(json.dumps(rows, indent=1) + "\n")


def main(argv=None):
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.throughput:
        throughput(args)
        return 0
    if args.timing:
        time_auto(args)
        return 0
    if args.rules:
        replay_rules(args)
        return 0
    sizes = [s if s == "full" else int(s) for s in args.sizes.split(",")]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    log = args.work / "rows.jsonl"
    done = {shipped_sources._key(row) for row in shipped_sources._read_rows(log)}
    fair = {}
    for target in targets:
        X_pool, y_pool, X_test, y_test = accuracy.full_splits(None, target, quick=False)[0]
        leakage = shipped_sources.leakage_into(target, X_pool, X_test)
        fair[target] = [f"conv_{s}" for s in shipped_sources.fair_sources(target, leakage)]
        print(f"target {target}: fair conv sources {fair[target]}", flush=True)
        if args.report_only:
            continue
        X_test, y_test = accuracy.cap(X_test, y_test, args.test_rows)
        methods = methods_for(fair[target])
        for k in sizes:
            for seed in range(1 if k == "full" else args.seeds):
                X, y = (
                    (X_pool, y_pool)
                    if k == "full"
                    else accuracy.sample_per_class(X_pool, y_pool, k, seed)
                )
                for method, build in methods.items():
                    row = {"target": target, "method": method, "per_class": k, "seed": seed}
                    if shipped_sources._key(row) in done:
                        continue
                    start = time.perf_counter()
                    model = build().fit(X, y)
                    row["fit_seconds"] = time.perf_counter() - start
                    row["accuracy"] = 100.0 * float(np.mean(model.predict(X_test) == y_test))
                    row["sources_weight"] = shipped_sources._sources_weight(model)
                    with log.open("a") as out:
                        out.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    rows = [r for r in shipped_sources._read_rows(log) if r["target"] in targets]
    write(args, rows, fair)
    return 0


def write(args, rows, fair):
    command = "python " + " ".join(sys.argv)
    previous = args.out / "conv_sources.json"
    if args.report_only and previous.is_file():  # the command that ran the fits
        command = json.loads(previous.read_text())["meta"]["command"]
    meta = {
        "command": command,
        "seeds": args.seeds,
        "sizes": args.sizes,
        "test_rows": args.test_rows,
        "python": platform.python_version(),
        "lightxfer": lightxfer.__version__,
        "machine": "2 CPU cores shared with other jobs; 1 thread, nice 10",
        "fair_sources": fair,
    }
    timing = args.out / "conv_timing.json"
    if timing.is_file():
        meta["timing"] = json.loads(timing.read_text())
    speed = args.out / "conv_throughput.json"
    if speed.is_file():
        meta["throughput"] = json.loads(speed.read_text())
    training = args.out / "conv_sources_training.md"
    reference = []
    if args.reference_work:
        reference = shipped_sources._read_rows(args.reference_work / "rows.jsonl")
        meta["reference"] = args.reference_label
    payload = {"meta": meta, "rows": rows, "reference_rows": reference}
    (args.out / "conv_sources.json").write_text(json.dumps(payload, indent=1) + "\n")
    text = markdown(pd.DataFrame(rows), meta)
    if reference:
        summary = summaries(
            pd.DataFrame(reference).assign(size=lambda f: f["per_class"].astype(str))
        )
        text += (
            f"\nThe same with conv sources of {args.reference_label} (an earlier run, "
            "stopped before its last targets):\n\n" + "\n".join(summary) + "\n"
        )
    rules = args.out / "conv_rules.md"
    if rules.is_file():
        text += "\n" + rules.read_text()
    if training.is_file():
        text += "\n" + TRAINING_INTRO + training.read_text()
    plot(pd.DataFrame(rows), args.out / "conv_sources.png")
    text += "\n![Conv sources, leave-one-out](conv_sources.png)\n"
    (args.out / "conv_sources.md").write_text(text)
    print(f"wrote conv_sources.json and .md to {args.out}")


TRAINING_INTRO = """\
**The conv sources themselves** (`benchmarks/train_conv_sources.py`: `train_conv_filters`
on the task's training split, or the training part of fold 0 of the 10-fold split for
SUBJ and MPQA; test accuracy % of the numpy `ConvLayer` under its trained softmax) against
Kim (2014)'s CNN-static, which read 300-d word2vec vectors where these read 50-d GloVe:

"""


def plot(frame, path):
    """Mean test accuracy over the targets by size: the three models, and each target's gain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = frame[frame["per_class"] != "full"].astype({"per_class": int})
    means = frame.pivot_table(
        index=["target", "per_class"], columns="method", values="accuracy", aggfunc="mean"
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for method in (GLOVE_LR, RECOMMENDED, WITH_CONV):
        curve = means[method].groupby(level="per_class").mean()
        left.plot(curve.index, curve.values, marker="o", label=method)
    left.set(xscale="log", xlabel="examples per class", ylabel="test accuracy %, mean of targets")
    left.legend()
    gain = (means[WITH_CONV] - means[RECOMMENDED]).unstack("target")
    for target in gain.columns:
        right.plot(gain.index, gain[target], marker="o", label=target)
    right.axhline(0, color="grey", lw=0.8)
    right.axhline(-0.5, color="red", lw=0.8, ls="--", label="guard (-0.5)")
    right.set(xscale="log", xlabel="examples per class", ylabel="gain over recommended, points")
    right.legend()
    fig.suptitle("GloVe recommended + conv sources, leave-one-out (fair pairs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summaries(frame):
    """Per size: mean accuracy of the three models, the gain, fit-time ratio, sources kept."""
    order = sorted(
        frame["size"].unique(), key=lambda s: (s == "full", int(s) if s != "full" else 0)
    )
    table = frame.pivot_table(
        index=["target", "size"], columns="method", values="accuracy", aggfunc="mean"
    )
    lines = []
    for size in order:
        part = table.xs(size, level="size").dropna(subset=[RECOMMENDED, WITH_CONV])
        gain = part[WITH_CONV] - part[RECOMMENDED]
        lines.append(
            f"- {size} per class, mean over {len(part)} targets: recommended + conv sources "
            f"{part[WITH_CONV].mean():.1f}, recommended {part[RECOMMENDED].mean():.1f} "
            f"({gain.mean():+.1f}; worst target {gain.min():+.1f}, {gain.idxmin()}), frozen "
            f"GloVe + LR {part[GLOVE_LR].mean():.1f}."
        )
    pairs = frame[frame["method"].isin([RECOMMENDED, WITH_CONV])].pivot_table(
        index=["target", "size", "seed"], columns="method", values="fit_seconds"
    )
    ratio = (pairs[WITH_CONV] / pairs[RECOMMENDED]).groupby(level="size").median()
    lines.append(
        "- Fit time, recommended + conv sources over recommended on the same draws (median "
        "of the per-draw ratios; the two fits run back to back): "
        + ", ".join(f"{s} per class {ratio[s]:.2f}x" for s in order if s in ratio)
        + "."
    )
    kept = frame[frame["method"] == WITH_CONV].dropna(subset=["sources_weight"])
    used = kept.groupby("size")["sources_weight"].apply(
        lambda ws: np.mean([any(v > 0 for v in w.values()) for w in ws])
    )
    lines.append(
        "- Share of draws where the validation kept the conv sources: "
        + ", ".join(f"{s} per class {used[s]:.0%}" for s in order if s in used)
        + "."
    )
    return lines


def targets(table, meta):
    """The issue's targets (#36), met or missed, with the numbers."""
    gain = (table[WITH_CONV] - table[RECOMMENDED]).dropna()
    lines = []
    if "32" in gain.index.get_level_values("size"):
        at32 = gain.xs("32", level="size").mean()
        lines.append(
            f"- Target: recommended + conv sources at least 2 points above recommended on the "
            f"mean at 32 per class: {at32:+.1f} ({'met' if at32 >= 2 else 'missed'})."
        )
    worst = gain.idxmin()
    lines.append(
        f"- Target (the guard): no target more than 0.5 points below recommended at any size: "
        f"worst {gain.min():+.1f} ({worst[0]} at {worst[1]} per class; "
        f"{'met' if gain.min() >= -0.5 else 'missed'}; "
        f"{int((gain < -0.5).sum())} of {len(gain)} target-size cells below -0.5)."
    )
    speed = [r for r in meta.get("throughput", []) if r["layer"].startswith("ConvLayer")]
    if speed:
        rate = speed[0]["texts_per_second"]
        lines.append(
            f"- Target: conv inference in numpy at least 2,000 texts/s on one core: {rate:,} "
            f"({'met' if rate >= 2000 else 'missed'})."
        )
    return lines


def markdown(frame, meta):
    frame = frame.assign(size=frame["per_class"].astype(str))
    order = sorted(
        frame["size"].unique(), key=lambda s: (s == "full", int(s) if s != "full" else 0)
    )
    seeds = frame.groupby("size")["seed"].nunique()
    lines = [
        "## Conv sources on GloVe, leave-one-out (test accuracy %, mean over seeds)",
        "",
        "Each shipped task is the target in turn; its sources are the shipped conv sources "
        "(`ConvLayer` filters, Kim 2014's CNN-static on GloVe 6B 50d) of the other tasks "
        "that share no text with it (the fair pairs of `shipped_sources.py`: SST-2, SST-5 "
        "and SUBJ get conv_trec and conv_mpqa, TREC and MPQA four sources). Rows: *frozen "
        "GloVe + LR* (`make_classifier(head=<CV-tuned LR>)`), *GloVe recommended* "
        "(`make_classifier()`), *GloVe recommended + conv sources* "
        "(`make_classifier(sources=[fair conv sources])`, what `sources='auto'` does with "
        "the five: each source's block at the GloVe features' norm, one weight chosen by "
        "validation on the training texts, 0 when they do not help), *transfer from X* "
        "(`make_classifier(conv=X, head=<CV-tuned LR>)`: the frozen conv layer under a new "
        "head).",
        "",
        "Scale: sizes (examples per class, seeds) "
        + ", ".join(f"{s} ({seeds[s]})" for s in order)
        + "; the given test split (SST-2, SST-5, TREC) or fold 0 of the stratified 10-fold "
        "split (SUBJ, MPQA); "
        + (f"test sets capped at {meta['test_rows']} rows; " if meta["test_rows"] else "")
        + f"{meta['machine']}. Reproduce with `{meta['command']}`.",
        "",
    ]
    table = frame.pivot_table(
        index=["target", "size"], columns="method", values="accuracy", aggfunc="mean"
    )
    table = table.reindex(
        sorted(table.index, key=lambda i: (i[0], order.index(i[1]) if i[1] in order else 0))
    )
    first = [GLOVE_LR, RECOMMENDED, WITH_CONV]
    columns = first + sorted(c for c in table.columns if c not in first)
    table = table[[c for c in columns if c in table.columns]]
    lines.append("| target | per class | " + " | ".join(table.columns) + " |")
    lines.append("| --- | --- |" + " ---: |" * len(table.columns))
    for (target, size), row in table.iterrows():
        cells = ["" if np.isnan(v) else f"{v:.1f}" for v in row]
        lines.append(f"| {target} | {size} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += summaries(frame)
    lines += targets(table, meta)
    if meta.get("timing"):
        pairs = pd.DataFrame(meta["timing"])
        pairs["ratio"] = pairs[AUTO] / pairs[RECOMMENDED]
        by_size = pairs.groupby("per_class")["ratio"]
        lines.append(
            f"- Fit time of `{AUTO}` (all five conv sources) over `make_classifier()`, timed "
            f"side by side (fastest of 2, taking turns; {pairs['target'].nunique()} targets, "
            f"{pairs['seed'].nunique()} draws each; `--timing`): "
            + ", ".join(
                f"{k} per class {r.median():.2f}x (range {r.min():.2f}-{r.max():.2f}x)"
                for k, r in by_size
            )
            + "."
        )
    for row in meta.get("throughput", []):
        lines.append(
            f"- Inference, numpy, one core, {row['texts']} SST-2 sentences (fastest of 3, no "
            f"cache): {row['layer']}: {row['texts_per_second']:,} texts/s."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
