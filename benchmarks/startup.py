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
import os
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
    section = markdown(best, args.repeats, load_average())
    args.output.with_suffix(".md").write_text(section, encoding="utf-8")
    print(section)


def load_average():
    """The 1-minute load average at the end of the run (``nan`` where unknown)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def markdown(best, repeats, load):
    """The section for benchmarks/README.md."""
    yardstick = best["import sklearn.pipeline"]
    lines = [
        "## Start-up: `lightxfer --help`",
        "",
        f"`python benchmarks/startup.py`: each command in a new process, best of {repeats}, "
        f"interleaved in one run (load average {load:.1f} on 2 cores at its end). "
        '"CLI alone" replaces the root package `lightxfer/__init__.py` by an empty one: what '
        "the command line itself imports to answer, whatever the package's re-exports cost. "
        "Target (issue 25): `lightxfer --help` at most 0.5x `import sklearn.pipeline`.",
        "",
        f"| command | best of {repeats} (s) | x `import sklearn.pipeline` |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | {t:.2f} | {t / yardstick:.2f} |" for name, t in best.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
