"""`prescreen serve`: the app on gunicorn, a production WSGI server (Werkzeug's development server
only with --debug).

- One worker process with threads by default. Several workers each keep their own rate-limit
  counts in memory, so `--workers` above 1 is refused unless the limits count in shared storage
  (`PRESCREEN_RATELIMIT_STORAGE_URL=redis://...`) or are off.
- No version banner: the `Server` header says only "gunicorn".
- The access log has the path without the query string (a staff search is a patient's words),
  the status, the size and the time; a message's text is in a POST body, never logged.
"""

from __future__ import annotations

from typing import Any

import gunicorn
from gunicorn.app.base import BaseApplication

# %(U)s is the path without its query string
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


class Server(BaseApplication):
    """gunicorn serving an app object made in this process."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def shared_limits(config: dict[str, Any]) -> bool:
    """Whether several processes would count the rate limits together."""
    return str(config.get("RATE_LIMITS", "")).strip().lower() == "off" or \
        not str(config.get("RATELIMIT_STORAGE_URL") or "memory://").startswith("memory://")


def serve(app: Any, host: str, port: int, workers: int = 1, threads: int = 8) -> None:
    """Run gunicorn in this process until stopped (SIGTERM or Ctrl+C)."""
    from bot import notify
    gunicorn.SERVER = "gunicorn"   # the Server header, without the version
    Server(app, {"bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
                 "accesslog": "-", "access_log_format": ACCESS_LOG_FORMAT, "errorlog": "-",
                 "timeout": 60, "graceful_timeout": 20,
                 # PRESCREEN_NOTIFY_IN_SERVER=1: each worker sends notifications from its start (bot/notify.py)
                 "post_worker_init": lambda worker: notify.start(app)}).run()
