"""Real local servers standing in for the systems connection tests reach.

- :func:`tls_files`: a throwaway certificate authority (trustme) and a certificate for
  ``localhost``/``127.0.0.1``, so HTTP types are tested over real HTTPS.
- :func:`silent_server`: a TCP socket that accepts connections (the kernel completes the
  handshake) and never answers a byte.
- :class:`S3Server`: moto's S3 in server mode with one bucket and one IAM user whose access
  key may use it; after setup, moto checks every request's signature and key.
- :func:`password_role`: a PostgreSQL role that must log in with its password on the
  session's throwaway server (a ``scram-sha-256`` line for that role alone in ``pg_hba``).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import psycopg
import trustme
from psycopg import sql

from tests.support.postgres import PostgresServer

REGION = "us-east-1"
BUCKET = "registry-test-bucket"
POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass(frozen=True)
class TlsFiles:
    """A CA bundle clients trust, and the server's certificate chain and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def tls_files(directory: Path) -> TlsFiles:
    """A fresh CA and a server certificate for ``localhost`` and ``127.0.0.1``."""
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1")
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    authority.cert_pem.write_to_path(str(files.ca_file))
    certificate.private_key_pem.write_to_path(str(files.key_file))
    with files.cert_file.open("wb") as out:
        for blob in certificate.cert_chain_pems:
            out.write(blob.bytes())
    return files


@contextmanager
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never sends anything."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    """moto's S3 at ``endpoint`` with ``BUCKET``, usable with this access key."""

    endpoint: str
    access_key_id: str
    secret_access_key: str

    @classmethod
    def set_up(cls, endpoint: str) -> S3Server:
        """Create the IAM user, its key and the bucket, then switch moto's auth on."""
        admin = {"endpoint_url": endpoint, "region_name": REGION,
                 "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **admin)  # type: ignore[call-overload]
        iam.create_user(UserName="registry-tester")
        iam.put_user_policy(UserName="registry-tester", PolicyName="s3",
                            PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="registry-tester")["AccessKey"]
        boto3.client("s3", **admin).create_bucket(Bucket=BUCKET)  # type: ignore[call-overload]
        # From now on every request must be signed with a key moto's IAM knows.
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
        return cls(endpoint, key["AccessKeyId"], key["SecretAccessKey"])

    def tear_down(self) -> None:
        """Switch moto's auth off again (it is a process-wide setting)."""
        httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=b"inf")


@dataclass(frozen=True)
class PasswordRole:
    """A role of the throwaway server that logs in with a password only."""

    host: str
    port: int
    database: str
    user: str
    password: str


def password_role(server: PostgresServer, user: str = "conn_tester",
                  password: str = "pg-secret-0123456789") -> PasswordRole:
    """Create the role and a database it owns; make the server ask it for its password."""
    hba = server.data_dir / "pg_hba.conf"
    line = f"host all {user} 127.0.0.1/32 scram-sha-256\n"
    if line not in hba.read_text():
        hba.write_text(line + hba.read_text())  # first match wins: before the trust lines
    database = f"{user}_db"
    with psycopg.connect(host=server.host, port=server.port, user=server.user,
                         dbname="postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone()
        if exists is None:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)))
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(user)))
        admin.execute("SELECT pg_reload_conf()")
    return PasswordRole(server.host, server.port, database, user, password)
