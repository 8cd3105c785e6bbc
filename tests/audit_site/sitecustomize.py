"""Runs at start-up of every Python process the tests start (this folder is on PYTHONPATH).

Installs the audit hook of ``tests/outside_reads.py`` when ``$LIGHTXFER_OUTSIDE_READS_LOG``
names a log file, so a benchmark script or notebook kernel that opens a file outside the
repository is caught as the tests themselves are.
"""

import importlib.util
import os
from pathlib import Path

if os.environ.get("LIGHTXFER_OUTSIDE_READS_LOG"):
    _path = Path(__file__).parents[1] / "outside_reads.py"
    _spec = importlib.util.spec_from_file_location("_lightxfer_outside_reads", _path)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    _module.OutsideReads(log=os.environ["LIGHTXFER_OUTSIDE_READS_LOG"]).install()
