"""Deletion that really forgets (issue 14, item 4): after "delete my answers" or a purge, no
patient text remains in any table, index or journal of the database.

- SQLite: every connection runs with `secure_delete` on (a deleted row's bytes are overwritten
  with zeros, in the table and in the pages it frees). Two things still keep copies, and a
  *forget pass* clears them: the full-text index (FTS5 keeps a deleted document's words in its
  stored segments until they are merged: `optimize` merges them into one, without them) and the
  write-ahead log (the WAL holds the pages as they were: `wal_checkpoint(TRUNCATE)` copies them
  into the database and empties the file).
- PostgreSQL: deleted rows stay in their pages until VACUUM reclaims them; the pass runs VACUUM
  on the tables that hold patient text. What VACUUM does not reach (the server's own write-ahead
  log until it is recycled, replicas, backups) is the database administrator's, see README.

The patient's turn never waits for this: a deletion schedules the pass, which runs in a
background thread after at most `delay` seconds (PRESCREEN_FORGET_DELAY_SECONDS, default 60;
README promises at most 5 minutes), and always when the process stops cleanly (SIGTERM included:
gunicorn's workers exit through `atexit`). `prescreen purge` runs it before it returns.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from sqlalchemy.engine import Engine

from bot import db

log = logging.getLogger("prescreen.forget")

# the tables that hold patient text (and their indexes) on PostgreSQL
PATIENT_TABLES = ("conversations", "events", "message_replies", "transcript_index", "followups")


def forget_pass(engine: Engine) -> None:
    """Clear what deleted rows left behind (see the module's text). Safe to run at any time."""
    if engine.dialect.name == "sqlite":
        with db.write(engine) as conn:
            conn.exec_driver_sql("INSERT INTO transcript_fts(transcript_fts) VALUES ('optimize')")
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for _ in range(50):   # TRUNCATE needs a moment without readers
                busy = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                if not busy:
                    break
                time.sleep(0.1)
            cur.close()
        finally:
            raw.close()
    else:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in PATIENT_TABLES:
                conn.exec_driver_sql(f"VACUUM {table}")


class Forgetter:
    """Runs the forget pass in the background once something was deleted."""

    def __init__(self, engine: Engine, delay: float = 60.0) -> None:
        self.engine, self.delay = engine, delay
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._pending = False
        atexit.register(self.flush)

    def deleted(self) -> None:
        """Something was deleted: schedule the pass (once, however many deletions come meanwhile)."""
        with self._lock:
            self._pending = True
            if self._timer is None:
                self._timer = threading.Timer(self.delay, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Run the pass now if anything is pending."""
        with self._lock:
            pending, self._pending = self._pending, False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if pending:
            try:
                forget_pass(self.engine)
            except Exception as exc:   # noqa: BLE001  the next deletion or stop tries again
                log.error("the forget pass failed: %s", type(exc).__name__)
                with self._lock:
                    self._pending = True
