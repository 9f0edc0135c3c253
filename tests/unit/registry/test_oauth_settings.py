"""OAuth settings: per-type clients from REGISTRY_OAUTH_*, checked, secrets never in a repr."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry.errors import SettingsError
from registry.oauth_settings import OAuthSettings

DRIVE = {
    "REGISTRY_OAUTH_GOOGLE_DRIVE_CLIENT_ID": "drive-client",
    "REGISTRY_OAUTH_GOOGLE_DRIVE_CLIENT_SECRET": "drive-secret-value",
    "REGISTRY_OAUTH_GOOGLE_DRIVE_AUTHORIZE_URL": "https://accounts.example.com/authorize",
    "REGISTRY_OAUTH_GOOGLE_DRIVE_TOKEN_URL": "https://accounts.example.com/token",
    "REGISTRY_OAUTH_REDIRECT_URI": "https://app.example.com/oauth/return",
}


def test_a_type_is_configured_by_its_variables() -> None:
    settings = OAuthSettings.from_env(DRIVE | {"REGISTRY_OAUTH_REFRESH_MARGIN": "60"})
    assert set(settings.clients) == {"google_drive"}
    client = settings.clients["google_drive"]
    assert client.client_id == "drive-client" and client.client_secret == "drive-secret-value"
    assert "drive-secret-value" not in repr(settings)
    assert settings.refresh_margin == timedelta(seconds=60)
    assert OAuthSettings.from_env({}).clients == {}


@pytest.mark.parametrize("change", [
    {"REGISTRY_OAUTH_GOOGLE_DRIVE_TOKEN_URL": ""},
    {"REGISTRY_OAUTH_GOOGLE_DRIVE_AUTHORIZE_URL": "ftp://x"},
    {"REGISTRY_OAUTH_REDIRECT_URI": ""},
    {"REGISTRY_OAUTH_REFRESH_MARGIN": "-1"},
])
def test_incomplete_or_bad_settings_are_refused(change: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        OAuthSettings.from_env(DRIVE | change)
