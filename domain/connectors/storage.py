"""Catalogue entries that read files or databases: S3, Google Drive, PostgreSQL."""

from __future__ import annotations

from domain.connectors.definition import (
    HTTP_URL,
    ConnectorType,
    Mode,
    document,
    oauth_token_credentials,
    secret,
    strict,
    text,
    url,
)

S3 = ConnectorType(
    type="s3",
    name="Amazon S3",
    description="Objects of an S3 bucket (or an S3-compatible store), optionally under a prefix.",
    mode=Mode.FILE_SYSTEM,
    protocol="s3",
    auth_types=("accessKey",),
    config_schema=document("s3-config", strict(
        "S3Config",
        {
            "bucket": text("Bucket name", max_length=63,
                           pattern="^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
            "region": text("AWS region, e.g. us-east-1", max_length=32,
                           pattern="^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"),
            "prefix": text("Only objects whose key starts with this prefix", max_length=1024),
            "endpoint": url("Endpoint of an S3-compatible store; empty for AWS",
                            pattern=HTTP_URL),
        },
        ("bucket", "region"),
    )),
    credentials_schema=document("s3-credentials", strict(
        "S3Credentials",
        {
            # Any key id without spaces: the seed's own example ("AKIA...") must be accepted;
            # whether AWS knows the key is what a connection test tells.
            "accessKeyId": text("Access key id", max_length=128, pattern=r"^\S{1,128}$"),
            "secretAccessKey": secret("Secret access key"),
            "sessionToken": secret("Session token of temporary credentials"),
        },
        ("accessKeyId", "secretAccessKey"),
    )),
)

GOOGLE_DRIVE = ConnectorType(
    type="google_drive",
    name="Google Drive",
    description="Files of a Google Drive, or of one folder of it; authorised through OAuth.",
    mode=Mode.FILE_SYSTEM,
    protocol="http",
    auth_types=("oauth2",),
    oauth=True,
    oauth_scopes=("https://www.googleapis.com/auth/drive.readonly",),
    config_schema=document("google_drive-config", strict(
        "GoogleDriveConfig",
        {"folderId": text("Only this folder and below; the whole drive when absent",
                          max_length=128, pattern="^[A-Za-z0-9_-]+$")},
    )),
    credentials_schema=document("google_drive-credentials",
                                oauth_token_credentials("GoogleDriveCredentials")),
)

POSTGRESQL = ConnectorType(
    type="postgresql",
    name="PostgreSQL",
    description="Tables of one schema of a PostgreSQL database.",
    mode=Mode.DATABASE,
    protocol="sql",
    auth_types=("password",),
    config_schema=document("postgresql-config", strict(
        "PostgresqlConfig",
        {
            "host": text("Host name or IP address", max_length=253,
                         pattern="^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$"),
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 5432,
                     "description": "TCP port"},
            "database": text("Database name", max_length=63),
            "schema": text("Schema whose tables are read", max_length=63,
                           pattern="^[A-Za-z_][A-Za-z0-9_$]*$", default="public"),
        },
        ("host", "database"),
    )),
    credentials_schema=document("postgresql-credentials", strict(
        "PostgresqlCredentials",
        {
            "username": text("Role to log in as", max_length=63),
            "password": secret("Password of that role"),
            "sslmode": {"enum": ["disable", "allow", "prefer", "require", "verify-ca",
                                 "verify-full"], "default": "verify-full",
                        "description": "libpq sslmode"},
        },
        ("username", "password"),
    )),
)
