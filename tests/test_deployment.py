"""The README's "Run it for real": its commands exist and work from an empty database, and
the example systemd units start commands that exist, as the service user, hardened."""

from __future__ import annotations

import configparser
import shlex

import pytest
from sqlalchemy import func, select

from kontaktcenter.app import create_app
from kontaktcenter.config import PROJECT_ROOT
from kontaktcenter.database import ENGINE_KEY, db
from kontaktcenter.directory.models import Department, Service, User

UNITS = sorted((PROJECT_ROOT / "config" / "systemd").glob("*.service"))


def _unit(path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def test_there_is_a_unit_for_the_web_the_live_streams_the_worker_and_the_scheduler():
    assert [u.name for u in UNITS] == [
        "kontaktcenter-live.service",
        "kontaktcenter-scheduler.service",
        "kontaktcenter-web.service",
        "kontaktcenter-worker.service",
    ]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_a_real_command_as_the_service_user_hardened(app, path):
    service = _unit(path)["Service"]
    assert service["User"] == "kontaktcenter"
    assert service["EnvironmentFile"] == "/etc/kontaktcenter/kontaktcenter.env"
    assert service["Restart"] in ("on-failure", "always")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service[key] == value, key
    assert service["ReadWritePaths"] == "/opt/kontaktcenter/instance"
    argv = shlex.split(service["ExecStart"])
    if argv[0].endswith("/gunicorn"):
        assert argv[-1] == "wsgi:app"
        assert (PROJECT_ROOT / argv[argv.index("-c") + 1]).exists()
    else:
        assert argv[0].endswith("/kontaktcenter")
        assert argv[1] in app.cli.commands, f"{path.name}: no command {argv[1]!r}"


def test_readme_for_real_gives_a_directory_and_no_user_on_an_empty_database(tmp_path):
    """`db upgrade` and `directory load config/directory.malmo.toml`, as the README says."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "kc db upgrade" in readme
    assert "kc directory load config/directory.malmo.toml" in readme
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'real.sqlite3'}", "SECRET_KEY": "s" * 48, "ENV": "production"},
        instance_path=str(tmp_path / "instance"),
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["directory", "load", str(PROJECT_ROOT / "config" / "directory.malmo.toml")])
    assert result.exit_code == 0, result.output
    assert "services: 31 created, 0 updated, 0 unchanged" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Department.id))) == 12
        assert db.session.scalar(select(func.count(Service.id))) == 31
        assert db.session.scalar(select(func.count(User.id))) == 0
    refused = runner.invoke(args=["demo", "--no-serve"])
    assert refused.exit_code != 0
    assert "ENV=production" in refused.output
    app.extensions[ENGINE_KEY].dispose()
