"""Catalogue entries for SaaS applications: Confluence, GitHub, Slack, Notion, Salesforce."""

from __future__ import annotations

from domain.connectors.definition import (
    ConnectorType,
    Mode,
    credential_variants,
    document,
    oauth_token_credentials,
    secret,
    strict,
    text,
    text_list,
    url,
    variant,
)

CONFLUENCE = ConnectorType(
    type="confluence",
    name="Confluence",
    description="Pages of some spaces of a Confluence Cloud site.",
    mode=Mode.API,
    protocol="http",
    auth_types=("basic",),
    config_schema=document("confluence-config", strict(
        "ConfluenceConfig",
        {
            "instanceUrl": url("Site address, e.g. https://example.atlassian.net"),
            "spaceKeys": text_list("Keys of the spaces to read",
                                   text("Space key", pattern="^~?[A-Za-z0-9]+$")),
        },
        ("instanceUrl", "spaceKeys"),
    )),
    credentials_schema=document("confluence-credentials", strict(
        "ConfluenceCredentials",
        {
            "email": {"type": "string", "format": "email", "maxLength": 254,
                      "description": "Atlassian account e-mail"},
            "apiToken": secret("Atlassian API token"),
        },
        ("email", "apiToken"),
    )),
)

GITHUB = ConnectorType(
    type="github",
    name="GitHub",
    description="Files of some GitHub repositories at one branch.",
    mode=Mode.API,
    protocol="http",
    auth_types=("bearer",),
    config_schema=document("github-config", strict(
        "GithubConfig",
        {
            "repos": text_list("Repositories as owner/name", text(
                "owner/name", max_length=140,
                pattern="^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")),
            "branch": text("Branch to read; the default branch when absent",
                           pattern="^[^\\u0000-\\u0020\\u007f~^:?*\\[\\\\]+$"),
            "pathFilter": text("Glob of the paths to read, e.g. docs/**/*.md", max_length=1024),
        },
        ("repos",),
    )),
    credentials_schema=document("github-credentials", strict(
        "GithubCredentials", {"token": secret("Personal access or installation token")},
        ("token",),
    )),
)

SLACK = ConnectorType(
    type="slack",
    name="Slack",
    description="Messages of some Slack channels, optionally within a date range.",
    mode=Mode.API,
    protocol="http",
    auth_types=("bearer",),
    config_schema=document("slack-config", strict(
        "SlackConfig",
        {
            "channels": text_list("Channel ids (C…) or names (#general)", text(
                "Channel", max_length=81,
                pattern="^(#?[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{8,20})$")),
            "dateRange": strict(
                "DateRange",
                {"from": {"type": "string", "format": "date", "description": "First day"},
                 "to": {"type": "string", "format": "date", "description": "Last day"}},
                ("from",),
                description="Only messages of these days (inclusive)",
            ),
        },
        ("channels",),
    )),
    credentials_schema=document("slack-credentials", strict(
        "SlackCredentials", {"botToken": secret("Bot token", pattern="^xoxb-")},
        ("botToken",),
    )),
)

NOTION = ConnectorType(
    type="notion",
    name="Notion",
    description="Pages and databases shared with the Notion integration; authorised via OAuth.",
    mode=Mode.API,
    protocol="http",
    auth_types=("oauth2",),
    oauth=True,
    config_schema=document("notion-config", strict(
        "NotionConfig",
        {"pageIds": text_list("Only these pages and below; all shared pages when absent",
                              text("Page id", max_length=36, pattern="^[0-9a-fA-F-]{32,36}$"))},
    )),
    credentials_schema=document("notion-credentials",
                                oauth_token_credentials("NotionCredentials")),
)

SALESFORCE = ConnectorType(
    type="salesforce",
    name="Salesforce",
    description="Records of some Salesforce objects, optionally filtered by SOQL.",
    mode=Mode.API,
    protocol="http",
    auth_types=("oauth2", "password"),
    oauth=True,
    oauth_scopes=("api", "refresh_token"),
    config_schema=document("salesforce-config", strict(
        "SalesforceConfig",
        {
            "objects": text_list("API names of the objects to read", text(
                "Object API name", max_length=80, pattern="^[A-Za-z][A-Za-z0-9_]*$")),
            "soqlFilter": text("SOQL WHERE clause applied to every object", max_length=4000),
            "instanceUrl": url("Instance address, e.g. https://example.my.salesforce.com"),
        },
        ("objects",),
    )),
    credentials_schema=document("salesforce-credentials", credential_variants(
        "SalesforceCredentials",
        {
            "oauth2": oauth_token_credentials("SalesforceOAuth", auth_type="oauth2"),
            "password": variant("SalesforcePassword", "password", {
                "username": text("User name", max_length=80),
                "password": secret("Password"),
                "securityToken": secret("Security token appended to the password"),
            }, ("username", "password", "securityToken")),
        },
    )),
)
