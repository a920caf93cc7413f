"""Which trial the actions serve: the file named by PRESCREEN_CRITERIA.

The action server and the in-process runner both call `current_trial()`; it
reloads the file only when its path or modification time changes.
"""

from __future__ import annotations

import os
import threading

from actions.trial import Trial, load_trial

_lock = threading.Lock()
_cache: dict[str, tuple[float, Trial]] = {}


def current_trial() -> Trial:
    """The trial of PRESCREEN_CRITERIA (default criteria.yaml), loaded and checked."""
    path = os.path.abspath(os.environ.get("PRESCREEN_CRITERIA", "criteria.yaml"))
    mtime = os.stat(path).st_mtime
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with _lock:
        trial = load_trial(path)
        _cache[path] = (mtime, trial)
        return trial
