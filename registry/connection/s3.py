"""The S3 connection test: list at most one key of the bucket with boto3.

botocore opens its own connections, so the guard checks the endpoint's addresses just
before the request; the address is not pinned (a DNS answer that changes in between is the
remaining gap, see docs/security.md).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from registry.connection.errors import (
    ConnectionFailedError,
    ConnectionTimeoutError,
    CredentialsRefusedError,
)
from registry.connection.guard import TargetGuard
from registry.connection.safety import safe_message

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REFUSED_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                           "InvalidToken", "ExpiredToken", "InvalidClientTokenId",
                           "AllAccessDisabled", "AccountProblem"})


_SESSION_LOCK = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    # One session for the process: it loads botocore's service models once, not per test.
    return boto3.session.Session()


def s3_client(config: Mapping[str, Any], credentials: Mapping[str, Any],
              timeout: float) -> S3Client:
    """A client of the configured endpoint (AWS when none): no retry, no proxy, bounded
    connect and read. Building it reaches nothing."""
    endpoint = config.get("endpoint") or None
    with _SESSION_LOCK:  # creating clients from one session is not thread-safe
        return _session().client(
            "s3", region_name=str(config["region"]), endpoint_url=endpoint,
            aws_access_key_id=str(credentials["accessKeyId"]),
            aws_secret_access_key=str(credentials["secretAccessKey"]),
            aws_session_token=credentials.get("sessionToken"),
            config=Config(connect_timeout=timeout, read_timeout=timeout,
                          retries={"total_max_attempts": 1}, proxies={},
                          s3={"addressing_style": "path" if endpoint else "auto"}),
        )


def check_s3(client: S3Client, config: Mapping[str, Any], guard: TargetGuard,
             secrets: list[str]) -> None:
    """List the bucket (one key at most, under the prefix) with the client's credentials."""
    endpoint = config.get("endpoint") or None
    target = urlsplit(str(endpoint)) if endpoint else None
    host = target.hostname if target else f"s3.{config['region']}.amazonaws.com"
    port = (target.port or (443 if target.scheme == "https" else 80)) if target else 443
    guard.address(str(host), port)
    try:
        client.list_objects_v2(Bucket=str(config["bucket"]), Prefix=str(config.get("prefix", "")),
                               MaxKeys=1)
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = safe_message(f"{code}: {details.get('Message', '')}", secrets)
        kind = CredentialsRefusedError if code in REFUSED_CODES else ConnectionFailedError
        raise kind(message) from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise ConnectionTimeoutError("the S3 endpoint did not answer in time") from None
    except BotoCoreError as error:
        raise ConnectionFailedError(safe_message(str(error), secrets)) from None
    finally:
        client.close()
