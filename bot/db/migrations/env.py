"""Alembic's environment for the prescreen database.

Migrations run through `bot.db.upgrade` (called at start by `prescreen serve`,
every CLI command and `bot:create_app()`, or on its own by `prescreen db
upgrade`), which hands over a connection already inside the one transaction
(and lock) the upgrade runs in.
"""

from alembic import context

from bot.db.schema import metadata

connection = context.config.attributes["connection"]
# SQLite cannot add a foreign key to a table: batch mode copies the table instead
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
