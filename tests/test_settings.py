"""Settings: default.toml < site file < environment < overrides, merged, checked and read-only.

README, "Configuration". Every shipped file loads through the real loaders; a site file names
only what it changes; an unknown key or a wrong type stops the start with file and key named.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kontaktcenter.app import create_app
from kontaktcenter.config import ENV_KEYS, OPEN_MAPS, PROJECT_ROOT, ConfigError, load_config
from kontaktcenter.database import ENGINE_KEY, db
from kontaktcenter.defaults import defaults
from kontaktcenter.demo import load_demo_users
from kontaktcenter.directory.load import load_directory, read_directory
from kontaktcenter.directory.models import Department
from tests.conftest import DEMO_PASSWORDS, AuthActions
from tests.fixtures.two_factor import enrol_demo_staff

CONFIG_DIR = PROJECT_ROOT / "config"
DIRECTORY_FILES = sorted(CONFIG_DIR.glob("directory.*.toml"))
SITE_FILES = sorted(set(CONFIG_DIR.glob("*.toml")) - set(DIRECTORY_FILES))
SECRET = {"SECRET_KEY": secrets.token_urlsafe(48)}


def plain(value: Any) -> Any:
    """The settings as TOML gives them (dicts and lists), to compare."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


def site(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return {"KONTAKTCENTER_CONFIG": str(path)}


def given(settings: Mapping[str, Any], file: Mapping[str, Any], path: tuple[str, ...] = ()) -> None:
    """Every value `file` gives is the one in force; an open map is the file's table, whole."""
    for key, value in file.items():
        inner = (*path, key)
        if isinstance(value, dict) and inner not in OPEN_MAPS:
            given(settings[key], value, inner)
        else:
            assert plain(settings[key]) == value, ".".join(inner)


def test_the_config_folder_holds_site_files_and_directory_files():
    assert [p.name for p in SITE_FILES] == ["default.toml", "production.example.toml"]
    assert [p.name for p in DIRECTORY_FILES] == ["directory.malmo.toml"]


@pytest.mark.parametrize("path", SITE_FILES, ids=lambda p: p.name)
def test_every_shipped_config_file_loads_as_a_site_file(path):
    settings = load_config({"KONTAKTCENTER_CONFIG": str(path), **SECRET})
    with path.open("rb") as fh:
        file = tomllib.load(fh)
    given(settings, {key: value for key, value in file.items() if key not in SECRET})  # the environment wins


@pytest.mark.parametrize("path", DIRECTORY_FILES, ids=lambda p: p.name)
def test_every_shipped_directory_file_loads(session, path):
    """What `kontaktcenter directory load FILE` does, in the test's transaction (rolled back)."""
    report = load_directory(session, read_directory(path))
    assert report.lines()


def test_the_packaged_defaults_are_config_default_toml():
    packaged = PROJECT_ROOT / "kontaktcenter" / "default.toml"
    assert packaged.resolve() == (CONFIG_DIR / "default.toml").resolve()


def test_a_site_file_with_one_key_keeps_every_other_default(tmp_path):
    settings = load_config(site(tmp_path, '[phone]\ngreeting = "Välkommen till Lunds kontaktcenter."\n'))
    expected = plain(defaults())
    expected["phone"]["greeting"] = "Välkommen till Lunds kontaktcenter."
    assert plain(settings) == expected


def test_without_a_site_file_the_settings_are_the_defaults():
    assert plain(load_config({})) == plain(defaults())


def test_an_open_map_in_a_site_file_replaces_the_default_table_whole(tmp_path):
    text = '[phone.menu]\n"1" = "skolval"\n"0" = "allmant"\n[cost_allocation.base_key]\nasf = 1\n'
    settings = load_config(site(tmp_path, text))
    assert plain(settings["phone"]["menu"]) == {"1": "skolval", "0": "allmant"}
    assert settings["phone"]["line_queue"] == defaults()["phone"]["line_queue"]
    assert plain(settings["cost_allocation"]) == {"base_share": 0.4, "base_key": {"asf": 1.0}}


def test_every_open_map_is_a_table_of_default_toml():
    for path in OPEN_MAPS:
        table = defaults()
        for key in path:
            table = table[key]
        assert isinstance(table, Mapping), path


def test_the_environment_overrides_the_site_file_with_the_defaults_types(tmp_path):
    environ = {
        **site(tmp_path, "SHORT_ABANDON_SECONDS = 7\nSCHEDULER_ENABLED = true\n"),
        "SHORT_ABANDON_SECONDS": "9",
        "SCHEDULER_ENABLED": "off",
        "TWO_FACTOR_REQUIRED_ROLES": "admin, agent",
        "OIDC_CLIENT_SECRET": "",
    }
    settings = load_config(environ)
    assert settings["SHORT_ABANDON_SECONDS"] == 9
    assert settings["SCHEDULER_ENABLED"] is False
    assert settings["TWO_FACTOR_REQUIRED_ROLES"] == ("admin", "agent")
    assert settings["OIDC_CLIENT_SECRET"] == ""


def test_every_environment_key_has_a_default_the_environment_can_give():
    for key in ENV_KEYS:
        assert isinstance(defaults()[key], str | bool | int | tuple), key


def test_a_whole_number_is_taken_where_a_number_is_expected(tmp_path):
    settings = load_config(site(tmp_path, "[cost_allocation]\nbase_share = 0\n"))
    assert settings["cost_allocation"]["base_share"] == 0.0
    assert isinstance(settings["cost_allocation"]["base_share"], float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[phone]\ngreting = "Hej"\n',
            "[phone] greting: unknown key (known: greeting, line_queue, automatic_distribution, reservation_seconds, menu)",
        ),
        ("SHORT_ABANDON_SECOND = 7\n", "SHORT_ABANDON_SECOND: unknown key (did you mean SHORT_ABANDON_SECONDS?"),
        ('TIMEZONE = "Europe/Stockholm"\n', "TIMEZONE: unknown key"),
        ('[telefon]\ngreeting = "Hej"\n', "telefon: unknown key"),
        ('[citizen_pages]\nfax = "040-00 00 00"\n', "[citizen_pages] fax: unknown key (known: organisation,"),
        ('SHORT_ABANDON_SECONDS = "7"\n', "SHORT_ABANDON_SECONDS: expected a whole number (as the default 5), got '7'"),
        ("SESSION_IDLE_MINUTES = true\n", "SESSION_IDLE_MINUTES: expected a whole number"),
        ("PASSWORD_LOGIN = 1\n", "PASSWORD_LOGIN: expected true or false"),
        ('phone = "040-34 10 00"\n', "phone: expected a table"),
        ('[phone]\nmenu = ["skolval"]\n', "[phone] menu: expected a table"),
        ('[phone.menu]\n"1" = 42\n', "[phone.menu] 1: expected a string"),
        ('[cost_allocation.base_key]\nasf = "allt"\n', "[cost_allocation.base_key] asf: expected a number"),
        ('TWO_FACTOR_REQUIRED_ROLES = "admin"\n', "TWO_FACTOR_REQUIRED_ROLES: expected a list"),
        ("TWO_FACTOR_REQUIRED_ROLES = [1]\n", "TWO_FACTOR_REQUIRED_ROLES: expected a string"),
    ],
)
def test_an_unknown_key_or_a_wrong_type_is_refused_naming_file_and_key(tmp_path, text, message):
    environ = site(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_config(environ)
    assert str(refused.value).startswith(f"{environ['KONTAKTCENTER_CONFIG']}: {message}")


def test_the_environment_is_checked_like_a_file():
    with pytest.raises(ConfigError, match=re.escape("environment: TRUSTED_PROXIES='two': expected a whole number")):
        load_config({"TRUSTED_PROXIES": "two"})


def test_cost_shares_that_do_not_add_up_stop_the_start(tmp_path):
    with pytest.raises(ConfigError, match="the shares add up to 0.5000, not 1"):
        load_config(site(tmp_path, "[cost_allocation.base_key]\nasf = 0.5\n"))


def test_the_settings_cannot_be_changed():
    settings = load_config({})
    with pytest.raises(TypeError):
        settings["ENV"] = "production"  # type: ignore[index]
    with pytest.raises(TypeError):
        settings["phone"]["menu"]["9"] = "skolval"
    with pytest.raises(AttributeError):
        settings["TWO_FACTOR_REQUIRED_ROLES"].append("agent")
    with pytest.raises(TypeError):
        defaults()["citizen_pages"]["organisation"] = "Lunds kommun"


def test_the_app_carries_the_tables_read_only(app):
    with pytest.raises(TypeError):
        app.config["phone"]["menu"]["9"] = "skolval"
    with pytest.raises(TypeError):
        app.config["cost_allocation"]["base_key"]["asf"] = 1.0


def test_no_code_writes_a_setting_after_start():
    """Only the app factory sets keys (Flask's own, and the derived database URL, key and rules path)."""
    write = re.compile(r"\bconfig\[[^\]]+\]\s*=[^=]|\bconfig\.(update|setdefault|pop|clear)\(")
    writers = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "kontaktcenter").rglob("*.py")
        if write.search(path.read_text(encoding="utf-8"))
    )
    assert writers == ["kontaktcenter/app.py"]


def test_the_production_example_cost_page_renders(tmp_path, monkeypatch):
    """production.example.toml over the Malmö directory: the manager's cost page splits the cost."""
    monkeypatch.setenv("KONTAKTCENTER_CONFIG", str(CONFIG_DIR / "production.example.toml"))
    monkeypatch.setenv("SECRET_KEY", SECRET["SECRET_KEY"])
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}"}, instance_path=str(tmp_path / "instance")
    )
    try:
        assert app.config["ENV"] == "production"
        runner = app.test_cli_runner()
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        loaded = runner.invoke(args=["directory", "load", str(CONFIG_DIR / "directory.malmo.toml")])
        assert loaded.exit_code == 0, loaded.output
        with app.app_context():
            load_demo_users(db.session, DEMO_PASSWORDS)
            enrol_demo_staff(db.session, app.config)
            db.session.commit()
        client = app.test_client()
        assert AuthActions(client).login("chef").status_code == 302
        page = client.get("/reports/kostnader?cost=1000000")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert 'role="alert"' not in text, text
        with app.app_context():
            names = dict(db.session.execute(select(Department.code, Department.name_sv)).all())
        for code in app.config["cost_allocation"]["base_key"]:
            assert f"<td>{names[code]}</td>" in text  # the department's name, not its code
            assert f"<td>{code}</td>" not in text
    finally:
        app.extensions[ENGINE_KEY].dispose()


def test_the_cost_page_names_a_department_the_directory_does_not_know(app, auth, client, monkeypatch):
    section = {"base_share": 0.4, "base_key": {"serviceforvaltningen": 0.5, "vatten": 0.5}}
    monkeypatch.setitem(app.config, "cost_allocation", section)
    auth.login("chef")
    text = client.get("/reports/kostnader?cost=1000000").get_data(as_text=True)
    assert "department code(s) not in the directory: vatten (the directory&#39;s departments: asf," in text


def test_the_readme_names_every_environment_variable():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration") : readme.index("## Run it for real")]
    assert [key for key in ENV_KEYS if f"`{key}`" not in section] == []


def test_a_report_target_given_as_a_percentage_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match=r"\[report_targets\] service_level = 80"):
        load_config(site(tmp_path, "[report_targets]\nservice_level = 80\n"))


def test_a_site_file_may_move_one_report_target_and_keeps_the_others(tmp_path):
    settings = load_config(site(tmp_path, "[report_targets]\nanswer_rate = 0.95\n"))
    assert settings["report_targets"]["answer_rate"] == 0.95
    assert settings["report_targets"]["service_level"] == 0.80
