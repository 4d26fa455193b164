"""The service's DynamoDB table as template.yaml declares it (keys, indexes), created in a moto client."""

from __future__ import annotations

from typing import Any

from round_robin_local.provision import table_definition
from round_robin_local.template import load_template, resources_of


def create_template_table(dynamodb: Any, name: str) -> None:
    """Create the template's one table under `name` (its keys and every index)."""
    (table,) = resources_of(load_template(), "AWS::DynamoDB::Table").values()
    dynamodb.create_table(TableName=name, **table_definition(table["Properties"]))
