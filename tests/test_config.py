"""Configuration: defaults < file < environment; production refuses to start without a secret."""

import secrets

import pytest

from kontaktcenter.config import ConfigError, load_config


def test_environment_overrides_file(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('PUBLIC_BASE_URL = "https://file.example"\nSHORT_ABANDON_SECONDS = 7\n')
    config = load_config({"KONTAKTCENTER_CONFIG": str(extra), "PUBLIC_BASE_URL": "https://env.example"})
    assert config["PUBLIC_BASE_URL"] == "https://env.example"
    assert config["SHORT_ABANDON_SECONDS"] == 7


def test_file_overrides_defaults(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text("SHORT_ABANDON_SECONDS = 9\n")
    assert load_config({"KONTAKTCENTER_CONFIG": str(extra)})["SHORT_ABANDON_SECONDS"] == 9
    assert load_config({})["SHORT_ABANDON_SECONDS"] == 5


def test_production_without_secret_key_refuses_to_start():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"ENV": "production"})


def test_production_with_secret_key_starts():
    key = secrets.token_urlsafe(32)
    assert load_config({"ENV": "production", "SECRET_KEY": key})["SECRET_KEY"] == key


def test_bad_environment_value_is_named():
    with pytest.raises(ConfigError, match="SHORT_ABANDON_SECONDS"):
        load_config({"SHORT_ABANDON_SECONDS": "five"})


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({"KONTAKTCENTER_CONFIG": str(tmp_path / "nope.toml")})


def test_production_example_is_valid_toml():
    from kontaktcenter.config import PROJECT_ROOT

    config = load_config(
        {
            "KONTAKTCENTER_CONFIG": str(PROJECT_ROOT / "config" / "production.example.toml"),
            "SECRET_KEY": secrets.token_urlsafe(32),
        }
    )
    assert config["ENV"] == "production"
