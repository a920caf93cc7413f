"""Shared pytest fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import os

import pytest
from hypothesis import settings

# CI runs the property tests on a fixed set of examples (a submission must not pass or fail
# by luck); locally each run explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from actions.trial import Trial, load_trial

ROOT = Path(__file__).resolve().parent.parent

# criteria fixtures


@pytest.fixture(scope="session")
def trial() -> Trial:
    """The real trial, loaded from the project's criteria.yaml."""
    return load_trial(ROOT / "criteria.yaml")


@pytest.fixture(scope="session")
def fictional_trial() -> Trial:
    """A made-up trial (tests/fixtures/fictional_trial.yaml) with other questions and rules."""
    return load_trial(ROOT / "tests" / "fixtures" / "fictional_trial.yaml")


@pytest.fixture(scope="session")
def result_validator():
    """A jsonschema validator for the published result schema (docs/ARCHITECTURE.md, "The result")."""
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "prescreen_result.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)
