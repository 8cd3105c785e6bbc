"""Catch files opened outside the repository while the tests run, in this process and its children.

A fresh clone has the repository, a Python environment and temporary folders, and nothing
beside the repository: the benchmark data ships in ``lightxfer/data``. An audit hook
(:func:`sys.addaudithook`) sees every ``open`` and records each path that lies outside
:func:`allowed_roots`. ``conftest.py`` installs it for the session and fails a test that
opened such a path; Python processes the tests start (benchmark scripts, notebook kernels,
Dask workers) install it too, through ``tests/audit_site/sitecustomize.py``, and append
what they catch to the file named by ``$LIGHTXFER_OUTSIDE_READS_LOG``.
"""

import os
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG_VARIABLE = "LIGHTXFER_OUTSIDE_READS_LOG"
SITE_DIR = Path(__file__).with_name("audit_site")
HOME = str(Path.home())
SYSTEM_ROOTS = ("/dev", "/proc", "/sys", "/etc", "/usr", "/lib", "/lib64", "/bin", "/run")


def allowed_roots():
    """Folders every machine that runs the tests has: the repository, Python, temp, system.

    Hidden folders of the home directory (tool caches and settings such as
    ``~/.cache/lightxfer`` or ``~/.config/matplotlib``) count too (see :func:`is_outside`);
    a folder beside the repository, or any other folder of data, does not.
    """
    roots = {REPO, Path(tempfile.gettempdir())}
    roots.update(Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix))
    roots.update(Path(p) for p in sysconfig.get_paths().values())
    if os.environ.get("LIGHTXFER_CACHE"):
        roots.add(Path(os.environ["LIGHTXFER_CACHE"]))
    roots.update(Path(p) for p in SYSTEM_ROOTS)
    return tuple(sorted({str(p) for r in roots for p in (r, r.resolve())}))


def is_outside(path, roots, beside, home=HOME):
    """Whether the absolute ``path`` is outside ``roots`` and hidden folders of ``home``.

    Anything in ``beside`` (the repository's parent folder) counts as outside unless a root
    inside that folder holds it: a repository cloned into the temporary folder must not
    read its neighbours either.

    Examples
    --------
    >>> roots = ("/srv/repo", "/tmp")
    >>> is_outside("/srv/repo/tests/x.py", roots, "/srv", home="/home/me")
    False
    >>> is_outside("/srv/shared/data/a.csv", roots, "/srv", home="/home/me")
    True
    >>> is_outside("/home/me/.cache/x", roots, "/srv", home="/home/me")
    False
    >>> is_outside("/home/me/data/x", roots, "/srv", home="/home/me")
    True
    >>> is_outside("/tmp/clone/repo/x", ("/tmp/clone/repo", "/tmp"), "/tmp/clone")
    False
    >>> is_outside("/tmp/clone/shared/x", ("/tmp/clone/repo", "/tmp"), "/tmp/clone")
    True
    """
    holding = [root for root in roots if _under(path, root)]
    in_home = path.removeprefix(home.rstrip("/") + "/")
    if in_home != path and in_home.startswith("."):
        holding.append(f"{home.rstrip('/')}/{in_home.split('/')[0]}")
    if _under(path, beside):
        holding = [root for root in holding if root != beside and _under(root, beside)]
    return not holding


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


class OutsideReads:
    """An audit hook that records paths opened outside the allowed roots.

    Parameters
    ----------
    log : str or None
        File to append each caught path to, one per line (used in child processes).
    """

    def __init__(self, log=None):
        self.log = log
        self.caught = []
        self._roots = allowed_roots()
        self._beside = str(REPO.parent)
        self._busy = False

    def install(self):
        sys.addaudithook(self._hook)  # hooks cannot be removed: install once per process
        return self

    def _hook(self, event, args):
        if event != "open" or self._busy or isinstance(args[0], int) or args[0] is None:
            return
        self._busy = True  # the hook's own work (getcwd, writing the log) must not recurse
        try:
            path = os.path.normpath(os.path.abspath(os.fsdecode(args[0])))
            if is_outside(path, self._roots, self._beside):
                self.caught.append(path)
                if self.log:
                    fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    try:
                        os.write(fd, os.fsencode(path) + b"\n")
                    finally:
                        os.close(fd)
        finally:
            self._busy = False


def child_environment(log):
    """``{variable: value}`` that makes Python children install the hook and log to ``log``."""
    path = os.pathsep.join(filter(None, (str(SITE_DIR), os.environ.get("PYTHONPATH"))))
    return {LOG_VARIABLE: str(log), "PYTHONPATH": path}
