"""SQLAlchemy Core statements compiled once and run on the DBAPI cursor.

A turn runs about six statements; SQLAlchemy's execution machinery
(`Connection.execute`: execution context, result wrapping) costs more than the
statements themselves. So the turn's statements are written in Core like every
other query (columns and types come from bot/db/schema.py, nothing is spelled
twice), compiled once per dialect at start, and executed here on the raw DBAPI
cursor with the same bind conversions SQLAlchemy would apply (datetimes,
booleans and JSON on SQLite; JSON on PostgreSQL). tests/test_fastpath.py checks
that each statement stores and reads exactly what `Connection.execute` does.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


class Prepared:
    """One Core statement compiled for one dialect: `.sql` and `.params(values)` for a DBAPI cursor."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        self.statement = statement
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        names = compiled.bind_names  # BindParameter -> name in the SQL
        self.constants = {name: bind.effective_value for bind, name in names.items() if not bind.required}
        self.convert: dict[str, Callable[[Any], Any]] = {}
        for bind, name in names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.convert[name] = process
        self.order: Sequence[str] | None = compiled.positiontup if compiled.positional else None

    def params(self, values: Mapping[str, Any]) -> Any:
        """The DBAPI parameters for these values (a tuple for positional drivers, else a dict)."""
        bound = {**self.constants, **values}
        for name, process in self.convert.items():
            if name in bound:
                bound[name] = process(bound[name])
        if self.order is None:
            return bound
        return tuple(bound[name] for name in self.order)

    def run(self, cursor: Any, values: Mapping[str, Any]) -> Any:
        """Execute on a DBAPI cursor; the cursor (for fetchone, rowcount)."""
        cursor.execute(self.sql, self.params(values))
        return cursor

    def run_many(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        cursor.executemany(self.sql, [self.params(row) for row in rows])
