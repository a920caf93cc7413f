"""Which trial the actions serve.

In process, the runner hands the actions the trial the app loaded (so the
app and its actions never disagree). On the action server it is the file
named by PRESCREEN_CRITERIA (default criteria.yaml), reloaded only when its
path or modification time changes.
"""

from __future__ import annotations

import contextvars
import os
import threading

from actions.trial import Trial, load_trial

_lock = threading.Lock()
_cache: dict[str, tuple[float, Trial]] = {}
CRITERIA_VARIABLE, DEFAULT_CRITERIA = "PRESCREEN_CRITERIA", "criteria.yaml"   # bot/config.py uses them too
serving: contextvars.ContextVar[Trial | None] = contextvars.ContextVar("serving", default=None)


def current_trial() -> Trial:
    """The trial the running call is for."""
    trial = serving.get()
    if trial is not None:
        return trial
    path = os.path.abspath(os.environ.get(CRITERIA_VARIABLE, DEFAULT_CRITERIA))
    mtime = os.stat(path).st_mtime
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with _lock:
        trial = load_trial(path)
        _cache[path] = (mtime, trial)
        return trial
