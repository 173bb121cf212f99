"""The channels' layout: a sub-package per channel with its blueprint in views.py; channels do not import
each other, the shared modules import no channel; the served app never loads the development tools."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kontaktcenter.channels

CHANNELS_DIR = Path(kontaktcenter.channels.__file__).parent
CHANNELS = ("web", "api", "open311", "email", "sms", "voice", "walkin")


def _channel_imports(module: Path) -> set[str]:
    """The sub-packages of kontaktcenter.channels a module imports (relative imports resolved)."""
    parts = ("kontaktcenter", *module.relative_to(CHANNELS_DIR.parent.parent).with_suffix("").parts[1:])
    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(parts[: len(parts) - node.level]) if node.level else ""
            name = ".".join(p for p in (base, node.module or "") if p)
            names = [name, *(f"{name}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n.split(".")[2] for n in names if n.startswith("kontaktcenter.channels.") and n.count(".") >= 2}
    return found & set(CHANNELS)


def _own(module: Path) -> str | None:
    relative = module.relative_to(CHANNELS_DIR).parts
    return relative[0] if len(relative) > 1 else None


def test_no_channel_imports_another_and_the_shared_modules_import_none():
    offending = {
        str(module.relative_to(CHANNELS_DIR)): sorted(_channel_imports(module) - {_own(module)})
        for module in CHANNELS_DIR.rglob("*.py")
        if _channel_imports(module) - {_own(module)}
    }
    assert offending == {}


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_has_its_blueprint_in_views(channel):
    assert importlib.import_module(f"kontaktcenter.channels.{channel}.views").bp is not None


def test_the_served_app_does_not_load_the_development_tools():
    code = (
        "import sys; from kontaktcenter.app import create_app; create_app({'TESTING': True}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kontaktcenter_dev'))"
    )
    root = CHANNELS_DIR.parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=_env(root), check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _env(root: Path) -> dict[str, str]:
    # This checkout first, as pytest itself runs it.
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
