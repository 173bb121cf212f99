"""Single sign-on settings: a half-configured provider or a mistyped role stops the start, with what to fix."""

import pytest

from kontaktcenter.auth.sso import Settings, role_for
from kontaktcenter.config import ConfigError, load_config

SITE = """
OIDC_ISSUER = "https://login.microsoftonline.com/tenant-id/v2.0"
OIDC_CLIENT_ID = "client-id"

[oidc.groups]
"kc-admins" = {role = "admin"}
"kc-agents" = {role = "agent", department = "serviceforvaltningen"}
"""


def site(tmp_path, text: str) -> dict:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return {"KONTAKTCENTER_CONFIG": str(path)}


def test_the_group_table_is_read_in_order_and_the_first_group_decides(tmp_path):
    settings = Settings.from_config(load_config(site(tmp_path, SITE)))
    assert settings.enabled
    assert settings.password_login
    assert [(g.group, g.role, g.department) for g in settings.grants] == [
        ("kc-admins", "admin", None),
        ("kc-agents", "agent", "serviceforvaltningen"),
    ]
    assert role_for(settings, {"kc-agents", "kc-admins"}).role == "admin"
    assert role_for(settings, {"kc-agents"}).department == "serviceforvaltningen"
    assert role_for(settings, {"others"}) is None


def test_the_environment_sets_the_map_as_json(tmp_path):
    env = {**site(tmp_path, SITE), "OIDC_ROLE_MAP": '{"g1": {"role": "manager"}}', "PASSWORD_LOGIN": "false"}
    settings = Settings.from_config(load_config(env))
    assert [(g.group, g.role) for g in settings.grants] == [("g1", "manager")]
    assert settings.password_login is False


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (SITE.replace('role = "admin"', 'role = "superuser"'), {}, "role 'superuser' is not one of"),
        (SITE.replace('OIDC_CLIENT_ID = "client-id"', ""), {}, "OIDC_CLIENT_ID is not"),
        (SITE, {"OIDC_SCOPES": "profile email"}, "must include openid"),
        (SITE, {"OIDC_ROLE_MAP": "{not json"}, "OIDC_ROLE_MAP is not valid JSON"),
        (SITE.split("[oidc.groups]")[0], {}, "no group maps to a role"),
        ("", {"PASSWORD_LOGIN": "false"}, "nobody could sign in"),
        (SITE, {"OIDC_ISSUER": "http://login.example.org/tenant"}, "expected an https:// URL"),
        (SITE.replace('{role = "admin"}', '{role = "admin", queue = "x"}'), {}, "expected {role"),
    ],
)
def test_a_bad_setting_stops_the_start_and_says_what_to_fix(tmp_path, text, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config({**site(tmp_path, text), **env})


def test_single_sign_on_is_off_by_default():
    settings = Settings.from_config(load_config({}))
    assert not settings.enabled
    assert settings.password_login
