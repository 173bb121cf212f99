"""The registerutdrag as a printable HTML page or a JSON file (the same data)."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template

from .extract import SECTIONS


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def as_html(data: dict[str, Any], lang: str = "sv") -> str:
    headings = {key: (en if lang == "en" else sv) for key, (sv, en) in SECTIONS.items()}
    sections = [key for key in SECTIONS if key != "identifiers"]
    return render_template("privacy/registerutdrag.html", data=data, headings=headings, sections=sections, lang=lang)
