"""Benchmark: seconds to ``import lightxfer`` in a fresh process, against scikit-learn's pipeline.

Each import runs in a new interpreter (files in the page cache after a first untimed
round), the imports taking turns ``--repeat`` times, fastest kept; then the first use of
``lightxfer.make_classifier`` (which imports scikit-learn and gensim, not torch).

Run ``python benchmarks/import_time.py``; results go to ``benchmarks/results/import_time.json``
and a section of ``benchmarks/results/performance.md``.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from throughput import write_section

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
IMPORTS = {
    "import lightxfer": "import lightxfer",
    "import sklearn.pipeline": "import sklearn.pipeline",
    "import lightxfer; lightxfer.make_classifier": "import lightxfer; lightxfer.make_classifier",
}
TIMED = """
import json, sys, time
start = time.perf_counter()
{code}
print(json.dumps({{"seconds": time.perf_counter() - start,
                   "torch": "torch" in sys.modules, "sklearn": "sklearn" in sys.modules}}))
"""


def time_import(code):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", TIMED.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per import; fastest kept")
    parser.add_argument("--out", type=Path, default=RESULTS / "import_time.json")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()[0]
    for code in IMPORTS.values():
        time_import(code)  # the files into the page cache
    best = {}
    for _ in range(args.repeat):
        for name, code in IMPORTS.items():
            found = time_import(code)
            if name not in best or found["seconds"] < best[name]["seconds"]:
                best[name] = found
    results = {"best_of": args.repeat, "imports": best}
    results["load_average"] = [load_at_start, os.getloadavg()[0]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    base = best["import sklearn.pipeline"]["seconds"]
    lines = [
        "## Import time",
        "",
        f"A fresh process, fastest of {args.repeat} (`python benchmarks/import_time.py`; "
        f"load average {results['load_average'][0]:.1f} at the start, "
        f"{results['load_average'][1]:.1f} at the end):",
        "",
        "| statement | seconds | x `import sklearn.pipeline` | imports torch | imports sklearn |",
        "|---|---:|---:|---|---|",
    ]
    for name, found in best.items():
        lines.append(
            f"| `{name}` | {found['seconds']:.3f} | {found['seconds'] / base:.2f}x | "
            f"{'yes' if found['torch'] else 'no'} | {'yes' if found['sklearn'] else 'no'} |"
        )
    section = "\n".join(lines) + "\n"
    write_section(args.out.parent / "performance.md", "import", section)
    print(section)


if __name__ == "__main__":
    main()
