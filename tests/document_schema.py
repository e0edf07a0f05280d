"""The published JSON Schema of the stored document (schemas/), as a validator for tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA_PATH = (
    Path(__file__).resolve().parents[1] / "schemas" / "momento-secret-document.schema.json"
)


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def violations(document: Any) -> list[str]:
    """What is wrong with a document by the schema, by path and rule: never by its values."""
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(document)'}: {error.validator}"
        for error in validator().iter_errors(document)
    )
