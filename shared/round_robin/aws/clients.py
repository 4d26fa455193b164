"""Cached AWS client factory: created lazily on first use, reused across invocations of a warm Lambda."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from round_robin.errors import StorageError

# Standard retry mode backs off on throttling (ThrottlingException, ProvisionedThroughputExceeded) itself.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=5,
)


@cache
def client(service: str) -> Any:
    """A boto3 client for `service`, shared by the whole process."""
    return boto3.client(service, config=_CONFIG)


def storage_error(exc: ClientError | BotoCoreError, action: str) -> StorageError:
    """Translate a botocore failure (after botocore's own retries) into StorageError naming the AWS error code."""
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
    return StorageError(f"{action} failed: {code}")
