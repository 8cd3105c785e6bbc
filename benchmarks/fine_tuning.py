"""Fine-tuning the encoder benchmark: frozen vs contrastively fine-tuned MiniLM vs SetFit.

On the five shipped tasks, ``k`` examples per class drawn from the training data (SUBJ and
MPQA: from the first of 10 stratified folds' training part), the same draws for every
method, tested on at most ``--test-size`` test texts (SUBJ, MPQA: the held-out fold):

- frozen encoder + LR: ``make_classifier(encoder=..., head="logreg")``;
- recommended on encoder: ``make_classifier(encoder=...)``;
- fine-tuned encoder + LR: ``make_classifier(encoder=..., fine_tune=...)`` (defaults of
  ``ContrastiveFineTuning``: the last 2 layers; ``--full`` adds every layer);
- SetFit 1.2 (``num_iterations=20``, 1 epoch) on the same model files, run by
  ``setfit_runner.py`` in its own environment (``--setfit-python``), side by side.

Every fit uses one torch thread. Rows go to ``<work>/*.jsonl`` as they finish (a rerun
resumes), the summary to ``<out>/fine_tuning.json`` and ``fine_tuning.md``::

    python benchmarks/fine_tuning.py --seeds 3 --sizes 8
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy import TASKS, full_splits, sample_per_class  # the same data and draws

import lightxfer
from lightxfer import SentenceEncoder, make_classifier
from lightxfer.shared.fine_tuning import ContrastiveFineTuning

REPO = Path(__file__).resolve().parents[1]
ENCODER = "all-MiniLM-L6-v2"
SETFIT = "SetFit"
METHODS = {
    "frozen encoder + LR": lambda seed: make_classifier(encoder=ENCODER, head="logreg"),
    "recommended on encoder": lambda seed: make_classifier(encoder=ENCODER),
    "fine-tuned encoder + LR": lambda seed: make_classifier(
        encoder=ENCODER, fine_tune=ContrastiveFineTuning(random_state=seed)
    ),
}
FULL = "fine-tuned encoder (all layers) + LR"
#: Rows of an earlier run, before the default learning rate went from 5e-5 to 2e-4.
SLOW = "fine-tuned encoder + LR, learning_rate=5e-5"
ORDER = [*METHODS, SLOW, FULL, SETFIT]


def draws(tasks, sizes, seeds, test_size, work):
    """Write every draw as JSON; return the jobs ``[{job, task, per_class, seed, draw}]``."""
    jobs = []
    for task in tasks:
        X, y, X_test, y_test = full_splits(None, task, quick=True)[0]
        keep = np.random.default_rng(0).permutation(len(y_test))[:test_size]
        X_test, y_test = X_test[keep], y_test[keep]
        for k in sizes:
            for seed in range(seeds):
                X_k, y_k = sample_per_class(X, y, k, seed)
                name = f"{task}-{k}-{seed}"
                path = work / "draws" / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                record = {"X": X_k, "y": y_k, "X_test": X_test, "y_test": y_test}
                path.write_text(json.dumps({key: v.tolist() for key, v in record.items()}))
                jobs.append(
                    {"job": name, "task": task, "per_class": k, "seed": seed, "draw": str(path)}
                )
    # Seed after seed, so a run cut short still covers every task.
    return sorted(jobs, key=lambda job: (job["seed"], job["per_class"]))


def run_lightxfer(jobs, methods, results):
    """Fit every method on every draw not yet in ``results``; append one row each."""
    done = _done(results)
    SentenceEncoder(ENCODER).fit(["load the model before any fit is timed"])
    for job in jobs:
        draw = json.loads(Path(job["draw"]).read_text())
        for method in methods:
            if (job["job"], method) in done:
                continue
            factory = METHODS.get(method) or (
                lambda seed: make_classifier(
                    encoder=ENCODER, fine_tune=ContrastiveFineTuning(layers=None, random_state=seed)
                )
            )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = factory(job["seed"]).fit(draw["X"], draw["y"])
                fit_seconds = time.perf_counter() - start
                predicted = model.predict(draw["X_test"])
            accuracy = 100.0 * float(np.mean(predicted == np.array(draw["y_test"])))
            row = {**job, "method": method, "accuracy": accuracy, "fit_seconds": fit_seconds}
            with results.open("a") as out:
                out.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


def file_sizes():
    """MB of a saved model: frozen, fine-tuned last 2 layers, fine-tuned all layers.

    The size depends on which weights train, not on the data or the budget: each model
    is fitted on six texts with a one-step budget.
    """
    texts = ["a good film", "great fun", "a lovely story", "a bad film", "dull", "awful"]
    labels = ["pos"] * 3 + ["neg"] * 3
    models = {
        "frozen encoder + LR": make_classifier(encoder=ENCODER, head="logreg"),
        "fine-tuned, last 2 layers": make_classifier(
            encoder=ENCODER, fine_tune=ContrastiveFineTuning(max_pairs=4)
        ),
        "fine-tuned, all layers": make_classifier(
            encoder=ENCODER, fine_tune=ContrastiveFineTuning(max_pairs=4, layers=None)
        ),
    }
    sizes = {}
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few examples per class
        for name, model in models.items():
            path = lightxfer.save(model.fit(texts, labels), Path(folder) / "model.skops")
            sizes[name] = path.stat().st_size / 1e6
    return sizes


def _done(results):
    if not results.exists():
        return set()
    rows = [json.loads(line) for line in results.read_text().splitlines() if line]
    return {(row["job"], row["method"]) for row in rows}


def report(work, out, meta):
    """Summarise every row of ``work`` into ``fine_tuning.json`` and ``fine_tuning.md``."""
    rows = [
        json.loads(line)
        for path in sorted(work.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line
    ]
    table = pd.DataFrame(rows)
    tuned, frozen = "fine-tuned encoder + LR", "frozen encoder + LR"
    main_rows = _same_draws(table, list(METHODS))
    sizes = meta.get("file_mb") or {}
    lines = [
        "## Fine-tuning the encoder (few-shot, contrastive)",
        "",
        f"{meta['summary']}; reproduce with:",
        "",
        f"    {meta['command']}",
        "",
        "Saved model files (`lightxfer.save`, `.skops`): "
        + "; ".join(f"{name} {mb:.2f} MB" for name, mb in sizes.items())
        + " (the base model, ~90 MB, is stored by reference).",
        "",
        *section(main_rows, "lightxfer's models"),
        *gains(main_rows, tuned, frozen),
    ]
    others = (
        (SLOW, "learning rate 2e-4 (the default) vs 5e-5"),
        (FULL, "last 2 layers vs all layers"),
        (SETFIT, "against SetFit"),
    )
    for other, title in others:
        if other in set(table["method"]):
            rows_ = _same_draws(table, [frozen, tuned, other])
            lines += [*section(rows_, f"{title}, on the draws both finished")]
            lines += gains(rows_, tuned, other)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fine_tuning.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (out / "fine_tuning.md").write_text("\n".join(lines) + "\n")


def _same_draws(table, methods):
    """The rows of ``methods`` on the draws all of them finished: means over the same draws."""
    table = table[table["method"].isin(methods)]
    complete = table.groupby("job")["method"].nunique() == len(methods)
    return table[table["job"].isin(complete[complete].index)]


def gains(table, method, other):
    """One line: ``method`` minus ``other``, mean and worst task, and the fit-time ratio."""
    if table.empty:
        return []
    wide = table.pivot_table(index=["per_class", "task"], columns="method", values="accuracy")
    diff = (wide[method] - wide[other]).groupby(level="per_class")
    seconds = table.pivot_table(index="job", columns="method", values="fit_seconds")
    ratio = (seconds[method] / seconds[other]).median()
    parts = [
        f"{k} per class: {mean:+.1f} points on the mean of the tasks (worst task {worst:+.1f})"
        for (k, mean), (_, worst) in zip(diff.mean().items(), diff.min().items())
    ]
    return [f"*{method} minus {other}*: " + "; ".join(parts) + f"; fit time x{ratio:.2f}.", ""]


def section(table, title):
    """Markdown tables of ``table``, one per training size, titled ``title``."""
    methods = [m for m in ORDER if m in set(table["method"])]
    tasks = [t for t in TASKS if t in set(table["task"])]
    lines = []
    for k in sorted(set(table["per_class"])):
        part = table[table["per_class"] == k]
        seeds = part.groupby("task")["seed"].nunique()
        lines += [
            f"**{title}, {k} per class** (test accuracy %, mean over seeds; seeds per task: "
            + ", ".join(f"{t} {seeds[t]}" for t in tasks)
            + "; fit s: median seconds of one fit, 1 torch thread)",
            "",
            "| method | " + " | ".join(tasks) + " | mean | fit s |",
            "|---|" + "---:|" * (len(tasks) + 2),
        ]
        for method in methods:
            rows = part[part["method"] == method]
            by_task = rows.groupby("task")["accuracy"].mean()
            cells = [f"{by_task[t]:.1f}" if t in by_task else "" for t in tasks]
            mean = by_task.mean() if len(by_task) == len(tasks) else float("nan")
            seconds = rows["fit_seconds"].median()
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {mean:.1f} | {seconds:.1f} |")
        lines.append("")
    return lines


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[8], help="examples per class")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--test-size", type=int, default=1000, help="test texts per task")
    parser.add_argument("--full", action="store_true", help="also fine-tune every layer")
    parser.add_argument("--methods", nargs="+", help="only these lightxfer methods")
    parser.add_argument(
        "--setfit-python",
        help="Python of an environment with setfit (e.g. /work/venv-setfit/bin/python); "
        "without it no SetFit rows are run",
    )
    parser.add_argument(
        "--setfit-tasks",
        nargs="+",
        default=list(TASKS),
        choices=TASKS,
        help="tasks SetFit runs on (its fits are the slowest)",
    )
    parser.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "lightxfer-fine-tuning"),
        help="draws and per-fit rows (a rerun resumes)",
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--report-only", action="store_true", help="summarise the rows so far")
    return parser


def main(argv=None):
    """Parse ``argv``, run what is missing, write the summary."""
    args = build_parser().parse_args(argv)
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    meta = {
        "summary": (
            f"{len(args.tasks)} tasks, {args.sizes} per class, up to {args.seeds} seeds, at "
            f"most {args.test_size} test texts per task, all-MiniLM-L6-v2, 2 CPU cores "
            f"shared with other jobs (load average {os.getloadavg()[0]:.0f} at the start: "
            "compare ratios, not seconds)"
        ),
        "command": "python benchmarks/fine_tuning.py " + " ".join(argv or sys.argv[1:]),
    }
    if args.report_only and (work / "meta.json").is_file():
        meta = json.loads((work / "meta.json").read_text())  # the run's, not this call's
    elif not args.report_only:
        (work / "meta.json").write_text(json.dumps(meta))
    if not args.report_only:
        import torch

        torch.set_num_threads(1)
        jobs = draws(args.tasks, args.sizes, args.seeds, args.test_size, work)
        (work / "jobs.json").write_text(json.dumps(jobs))
        setfit = None
        if args.setfit_python:
            runner = Path(__file__).with_name("setfit_runner.py")
            log = (work / "setfit.log").open("a")
            chosen = [job for job in jobs if job["task"] in args.setfit_tasks]
            (work / "setfit_jobs.json").write_text(json.dumps(chosen))
            command = [args.setfit_python, str(runner), str(work / "setfit_jobs.json")]
            setfit = subprocess.Popen(
                [*command, str(work / "setfit.jsonl"), "1"], stdout=log, stderr=log
            )
        methods = args.methods or [*METHODS, *([FULL] if args.full else [])]
        try:
            run_lightxfer(jobs, methods, work / "lightxfer.jsonl")
        finally:
            if setfit is not None:
                setfit.wait()
    if "file_mb" not in meta:
        meta["file_mb"] = file_sizes()
        (work / "meta.json").write_text(json.dumps(meta))
    report(work, out, meta)
    print((out / "fine_tuning.md").read_text())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
