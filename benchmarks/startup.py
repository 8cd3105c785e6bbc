"""Benchmark: start-up of the ``lightxfer`` command against ``import sklearn.pipeline``.

Each command runs in a new Python process, best of ``--repeats``, all in the same run:

- ``import sklearn.pipeline``: the yardstick (issue 25: ``lightxfer --help`` should take
  at most half of it);
- ``lightxfer --help`` and ``lightxfer train --help`` as a user runs them;
- the same with an empty root package: what the command line itself costs, whatever
  ``lightxfer/__init__.py`` imports;
- ``import lightxfer``.

Run from the repository root::

    python benchmarks/startup.py
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: Runs the command line with an empty ``lightxfer`` package in place of the real one.
CLI_ALONE = f"""
import sys, types
root = types.ModuleType("lightxfer")
root.__path__ = [{str(ROOT / "lightxfer")!r}]
sys.modules["lightxfer"] = root
from lightxfer.cli.entrypoint import main
main(sys.argv[1:])
"""

COMMANDS = {
    "import sklearn.pipeline": ["-c", "import sklearn.pipeline"],
    "lightxfer --help": ["-m", "lightxfer.cli.entrypoint", "--help"],
    "lightxfer train --help": ["-m", "lightxfer.cli.entrypoint", "train", "--help"],
    "lightxfer --help, CLI alone": ["-c", CLI_ALONE, "--help"],
    "lightxfer train --help, CLI alone": ["-c", CLI_ALONE, "train", "--help"],
    "import lightxfer": ["-c", "import lightxfer"],
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command (3)")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "startup.json", help="JSON results file"
    )
    return parser.parse_args(argv)


def best_time(args, repeats):
    """Best wall time, in seconds, of ``python ARGS`` in a new process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    args = parse_args(argv)
    # Interleaved rounds: a burst of load from other processes hits every command alike.
    times = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(best_time(command, 1))
    best = {name: min(values) for name, values in times.items()}
    yardstick = best["import sklearn.pipeline"]
    result = {
        "python": platform.python_version(),
        "repeats": args.repeats,
        "seconds": best,
        "ratio_to_sklearn_pipeline": {name: t / yardstick for name, t in best.items()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(f"| command | best of {args.repeats} (s) | × `import sklearn.pipeline` |")
    print("|---|---|---|")
    for name, seconds in best.items():
        print(f"| `{name}` | {seconds:.2f} | {seconds / yardstick:.2f} |")


if __name__ == "__main__":
    main()
