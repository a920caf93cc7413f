"""Staff commands of the `prescreen` CLI: users, export."""

import click


def register(main: click.Group) -> None:
    """Add the staff commands to the `prescreen` group."""
