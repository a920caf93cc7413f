"""Which trial the actions serve: the file named by PRESCREEN_CRITERIA.

The action server and the in-process runner both call `current_trial()`; it
reloads the file only when its path or modification time changes.
"""

from __future__ import annotations

import contextvars
import os
import threading

from actions.trial import Trial, load_trial

_lock = threading.Lock()
_cache: dict[str, tuple[float, Trial]] = {}
criteria_path: contextvars.ContextVar[str | None] = contextvars.ContextVar("criteria_path", default=None)


def current_trial() -> Trial:
    """The trial the running call is for: the in-process runner names its file;
    on the action server it is PRESCREEN_CRITERIA (default criteria.yaml)."""
    path = os.path.abspath(criteria_path.get() or os.environ.get("PRESCREEN_CRITERIA", "criteria.yaml"))
    mtime = os.stat(path).st_mtime
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with _lock:
        trial = load_trial(path)
        _cache[path] = (mtime, trial)
        return trial
