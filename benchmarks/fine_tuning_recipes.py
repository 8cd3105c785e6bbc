"""Fine-tuning recipes chosen on training data, and what a long-text fit costs (issue 33).

Recipes: on the five shipped tasks, ``--per-class`` examples per class drawn from the
TRAINING split (SUBJ and MPQA: the training part of the first of 10 stratified folds),
scored on up to ``--score-size`` other training texts (never a test set), the same draws
for every row; frozen MiniLM + LR is the reference row. Every fit uses one torch thread;
rows go to ``<work>/recipes.jsonl`` as they finish (a rerun resumes, a cut run still
gives a table), the summary to ``<out>/fine_tuning_recipes.{json,md}``::

    python benchmarks/fine_tuning_recipes.py --seeds 3

Cost (``--cost``): a 9-class x 8-per-class fit of 72 quotation-length texts (consecutive
SUBJ sentences joined to 200+ words, about 250 word pieces), at 1 and 2 torch threads,
with this version and with the fine-tuning module of an earlier commit
(``--baseline-rev``), each in a new process; rows to ``<work>/cost.jsonl``.
"""

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy import TASKS, full_splits

REPO = Path(__file__).resolve().parents[1]
ENCODER = "all-MiniLM-L6-v2"
FROZEN = "frozen encoder + LR"
TODAY = "today: layers 2, lr 2e-4, 1440 pairs"
#: Today's recipe trained by the fine-tuning module of ``--baseline-rev`` (old_fit's loop).
BEFORE = "today, before: old_fit's loop"
SETFIT_OWN = "SetFit's own: all layers, lr 2e-5, 40 per text, no cap"
#: Row -> ContrastiveFineTuning settings (None: the frozen encoder). Every fine-tuned row
#: has no word-piece budget: the shipped tasks' texts never reach the default one.
ROWS = {
    FROZEN: None,
    TODAY: {},
    BEFORE: {},
    "layers 3": {"layers": 3},
    "layers 4": {"layers": 4},
    "lr 1e-4": {"learning_rate": 1e-4},
    "lr 5e-4": {"learning_rate": 5e-4},
    "2 epochs": {"epochs": 2},
    "more pairs: 40 per text, max 2880": {"pairs_per_text": 40, "max_pairs": 2880},
    "fewer pairs: max 480 (as the budget on long texts)": {"max_pairs": 480},
    SETFIT_OWN: {
        "layers": None,
        "learning_rate": 2e-5,
        "pairs_per_text": 40,
        "max_pairs": 10**6,
    },
}
BASE = {
    "pairs_per_text": 20,
    "max_pairs": 1440,
    "epochs": 1,
    "layers": 2,
    "learning_rate": 2e-4,
    "pairs_per_step": 16,
    "max_word_pieces": None,
}


def jobs(tasks, per_class, seeds, score_size):
    """``[{task, seed, train, score}]``: indices into the task's training texts."""
    found = []
    for seed in range(seeds):
        for task in tasks:
            _, y = training_split(task)
            rng = np.random.default_rng(seed)
            picked = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
            train = rng.permutation(np.concatenate(picked))
            rest = np.setdiff1d(np.arange(len(y)), train)
            score = np.sort(np.random.default_rng(1000 + seed).permutation(rest)[:score_size])
            found.append({"task": task, "seed": seed, "train": train, "score": score})
    return found


def training_split(task):
    X, y, _, _ = full_splits(None, task, quick=True)[0]  # the training part only
    return X, y


def fit_and_score(row, job, baseline=None):
    """Accuracy (%) on the job's held-out training texts and the fit's seconds."""
    from lightxfer import make_classifier
    from lightxfer.shared import fine_tuning
    from lightxfer.shared.fine_tuning import ContrastiveFineTuning

    fine_tuning.fine_tune = _fine_tune(baseline if row == BEFORE else None)

    X, y = training_split(job["task"])
    settings = ROWS[row]
    fine_tune = None
    if settings is not None:
        fine_tune = ContrastiveFineTuning(**{**BASE, **settings, "random_state": job["seed"]})
    model = make_classifier(encoder=ENCODER, head="logreg", fine_tune=fine_tune)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[job["train"]], y[job["train"]])
        seconds = time.perf_counter() - start
        predicted = model.predict(X[job["score"]])
    return 100.0 * float(np.mean(predicted == y[job["score"]])), seconds


def run_recipes(args, work):
    import torch

    from lightxfer import SentenceEncoder

    torch.set_num_threads(1)
    results = work / "recipes.jsonl"
    done = {(r["task"], r["seed"], r["row"]) for r in _rows(results)}
    SentenceEncoder(ENCODER).fit(["load the model before any fit is timed"])
    slow = [row for row in args.rows if ROWS[row] and ROWS[row].get("layers", 2) is None]
    baseline = write_baseline(args.baseline_rev, work) if args.baseline_rev else None
    if BEFORE in args.rows and baseline is None:
        raise SystemExit(f"the row {BEFORE!r} needs --baseline-rev")
    todo = jobs(args.tasks, args.per_class, args.seeds, args.score_size)
    # Seed after seed (a cut run covers every task), the slow SetFit-like rows last.
    order = [(j, r) for j in todo for r in args.rows if r not in slow]
    order += [(j, r) for j in todo for r in slow]
    for job, row in order:
        if (job["task"], job["seed"], row) in done:
            continue
        accuracy, seconds = fit_and_score(row, job, baseline)
        record = {"task": job["task"], "seed": job["seed"], "row": row}
        record |= {"accuracy": accuracy, "fit_seconds": seconds, "load": os.getloadavg()[0]}
        with results.open("a") as out:
            out.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


def long_texts(n=72, words=200):
    """``n`` texts of consecutive SUBJ sentences joined until ``words`` words, 9 labels."""
    from lightxfer.datasets import load_subj

    texts, current = [], []
    for sentence in load_subj()[0]:
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= words:
            texts.append(" ".join(current))
            current = []
            if len(texts) == n:
                break
    return texts, np.repeat(np.arange(9), n // 9)


def time_long_fit(threads, baseline):
    """Seconds of the 9 x 8 long-text fit (default settings) in this process."""
    import torch

    from lightxfer import SentenceEncoder
    from lightxfer.shared import fine_tuning
    from lightxfer.shared.fine_tuning import ContrastiveFineTuning

    torch.set_num_threads(threads)
    fine_tuning.fine_tune = _fine_tune(baseline)
    texts, y = long_texts()
    encoder = SentenceEncoder(ENCODER).fit(["load the model before the fit is timed"])
    tokenizer = encoder._loaded_model().model.tokenizer
    pieces = [min(len(tokenizer(t)["input_ids"]), 256) for t in texts]
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    # The earlier version's defaults trained 2 layers, without a budget (which it ignores).
    settings = ContrastiveFineTuning(**({"layers": 2} if baseline else {}))
    SentenceEncoder(ENCODER, fine_tune=settings, progress=False).fit(texts, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "threads": threads,
        "version": "baseline" if baseline else "this",
        "layers": settings.layers,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "mean_words": float(np.mean([len(t.split()) for t in texts])),
        "mean_word_pieces": float(np.mean(pieces)),
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


_THIS = {}


def _fine_tune(baseline):
    """This version's ``fine_tune``, or that of the module file ``baseline``."""
    from lightxfer.shared import fine_tuning

    _THIS.setdefault("fine_tune", fine_tuning.fine_tune)
    if not baseline:
        return _THIS["fine_tune"]
    spec = importlib.util.spec_from_file_location("baseline_fine_tuning", baseline)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fine_tune


def write_baseline(rev, work):
    """Write ``lightxfer/shared/fine_tuning.py`` at git revision ``rev`` into ``work``."""
    path = work / "baseline_fine_tuning.py"
    shown = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:lightxfer/shared/fine_tuning.py"],
        capture_output=True,
        text=True,
        check=True,
    )
    path.write_text(shown.stdout)
    return path


def run_cost(args, work):
    results = work / "cost.jsonl"
    baseline = write_baseline(args.baseline_rev, work) if args.baseline_rev else None
    versions = ["this", *(["baseline"] if args.baseline_rev else [])]
    for version in versions:
        for threads in args.threads:
            command = [sys.executable, __file__, "--cost-one", str(threads)]
            if version == "baseline":
                command += ["--baseline-file", str(baseline)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            with results.open("a") as out:
                out.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


def _rows(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def report(work, out, meta):
    """Write ``fine_tuning_recipes.{json,md}`` from every row so far."""
    rows = _rows(work / "recipes.jsonl")
    costs = _rows(work / "cost.jsonl")
    lines = ["## Fine-tuning recipes, chosen on training data (issue 33)", ""]
    if rows:
        table = pd.DataFrame(rows)
        lines += recipe_table(table, meta)
    if costs:
        lines += cost_table(pd.DataFrame(costs), meta)
    out.mkdir(parents=True, exist_ok=True)
    record = {"meta": meta, "rows": rows, "cost": costs}
    (out / "fine_tuning_recipes.json").write_text(json.dumps(record, indent=1))
    (out / "fine_tuning_recipes.md").write_text("\n".join(lines) + "\n")


def recipe_table(table, meta):
    """Accuracy by task on the draws every row finished, mean, worst task vs today, seconds."""
    lines = [
        f"{meta['summary']}; reproduce with:",
        "",
        f"    {meta['command']}",
        "",
    ]
    tasks = [t for t in TASKS if t in set(table["task"])]
    wide = table.pivot_table(index=["task", "seed"], columns="row", values="accuracy")
    rows = [r for r in ROWS if r in wide.columns]
    partial = [r for r in rows if r in (BEFORE, SETFIT_OWN)]  # slow: on fewer draws
    full = [r for r in rows if r not in partial]
    lines += [
        "**Accuracy on held-out training texts** (%, mean over the draws every row below "
        f"finished: {len(wide.dropna(subset=full))} draws; worst vs today: the task where "
        "the row falls furthest below today's recipe; fit s: median seconds of one fit, 1 "
        "torch thread)",
        "",
        "| recipe | " + " | ".join(tasks) + " | mean | worst vs today | fit s |",
        "|---|" + "---:|" * (len(tasks) + 3),
    ]
    lines += _lines(table, wide.dropna(subset=full), full, tasks)
    for row in partial:  # the slow rows: on the draws they finished
        shown = [r for r in (FROZEN, TODAY, row) if r in wide.columns]
        part = wide.dropna(subset=shown)
        draws = ", ".join(f"{t} {n}" for t, n in part.groupby(level="task").size().items())
        lines += [
            "",
            f"**{row}, on the draws it finished** ({draws})",
            "",
            "| recipe | " + " | ".join(tasks) + " | mean | worst vs today | fit s |",
            "|---|" + "---:|" * (len(tasks) + 3),
        ]
        lines += _lines(table, part, shown, tasks)
    return lines + [""]


def _lines(table, wide, rows, tasks):
    by_task = wide.groupby(level="task").mean()
    seconds = table.groupby("row")["fit_seconds"].median()
    lines = []
    for row in rows:
        cells = [f"{by_task.loc[t, row]:.1f}" if t in by_task.index else "" for t in tasks]
        mean = by_task[row].mean() if len(by_task) == len(tasks) else float("nan")
        worst = (by_task[row] - by_task[TODAY]).min() if TODAY in by_task else float("nan")
        lines.append(
            f"| {row} | "
            + " | ".join(cells)
            + f" | {mean:.1f} | {worst:+.1f} | {seconds[row]:.1f} |"
        )
    return lines


def cost_table(costs, meta):
    lines = [
        "**A 9-class x 8-per-class fit of quotation-length texts** (72 texts of "
        f"{costs['mean_words'].mean():.0f} words, {costs['mean_word_pieces'].mean():.0f} "
        "word pieces on average; default settings; each fit in a new process; CPU s: the "
        "process's CPU time, summed over its threads, which other jobs inflate far less than "
        "the wall-clock seconds; load: the 1-minute load average before and after the fit, "
        "on 2 cores)",
        "",
        "| version | trained layers | torch threads | fit s | CPU s | load before / after |",
        "|---|---:|---:|---:|---:|---|",
    ]
    layers = costs["layers"] if "layers" in costs else pd.Series(2, index=costs.index)
    for row, trained in zip(costs.itertuples(), layers.fillna(2).astype(int)):
        lines.append(
            f"| {row.version} | {trained} | {row.threads} | {row.seconds:.0f} | "
            f"{row.cpu_seconds:.0f} | "
            f"{row.load_before:.1f} / {row.load_after:.1f} |"
        )
    if "cost_command" in meta:
        lines += ["", "Reproduce with:", "", f"    {meta['cost_command']}"]
    return lines + [""]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--score-size", type=int, default=300, help="held-out training texts")
    parser.add_argument(
        "--rows", nargs="+", default=[r for r in ROWS if r != BEFORE], choices=list(ROWS)
    )
    parser.add_argument("--cost", action="store_true", help="time the long-text fit instead")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--baseline-rev", help="git revision whose fine-tuning to time too")
    parser.add_argument("--cost-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-file", help=argparse.SUPPRESS)
    parser.add_argument(
        "--work",
        default=str(Path(tempfile.gettempdir()) / "lightxfer-fine-tuning-recipes"),
        help="per-fit rows (a rerun resumes)",
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--report-only", action="store_true", help="summarise the rows so far")
    return parser


def main(argv=None):
    """Parse ``argv``, run what is missing, write the summary."""
    args = build_parser().parse_args(argv)
    if args.cost_one:
        print(json.dumps(time_long_fit(args.cost_one, args.baseline_file)))
        return 0
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    meta_path = work / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    command = shlex.join(["python", "benchmarks/fine_tuning_recipes.py", *(argv or sys.argv[1:])])
    if args.cost:
        meta["cost_command"] = command
        meta_path.write_text(json.dumps(meta))
        run_cost(args, work)
    elif not args.report_only:
        meta |= {
            "summary": (
                f"{len(args.tasks)} tasks, {args.per_class} per class drawn from the training "
                f"split, scored on {args.score_size} other training texts, up to {args.seeds} "
                f"draws per task, all-MiniLM-L6-v2, 2 CPU cores shared with other jobs (load "
                f"average {os.getloadavg()[0]:.0f} at the start: compare seconds within a run)"
            ),
            "command": command,
        }
        meta_path.write_text(json.dumps(meta))
        run_recipes(args, work)
    report(work, out, meta)
    print((out / "fine_tuning_recipes.md").read_text())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
