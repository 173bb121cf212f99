"""The Malmö directory the demo and the tests start from, and the demo's users.

The directory itself is config/directory.malmo.toml (packaged as directory/malmo.toml),
read by the same loader as any city's file: this module only finds and parses it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .load import DirectoryFile, read_directory

MALMO_FILE = Path(__file__).resolve().parent / "malmo.toml"


@cache
def malmo() -> DirectoryFile:
    """The parsed Malmö directory file (read once; it ships with the code)."""
    return read_directory(MALMO_FILE)


# (username, name, role, department, location, languages, queues). Their passwords are made
# per installation (demo.py), never written here.
DEMO_USERS = [
    (
        "agent",
        "Amira Karlsson",
        "agent",
        "serviceforvaltningen",
        "kc-malmo",
        ["sv", "en", "ar"],
        ["kc-forsta-linjen", "kc-flersprakig", "kc-aterringning"],
    ),
    (
        "agent2",
        "Johan Lind",
        "agent",
        "serviceforvaltningen",
        "kc-malmo",
        ["sv", "en"],
        ["kc-forsta-linjen", "kc-aterringning"],
    ),
    (
        "filial",
        "Sara Nilsson",
        "agent",
        "serviceforvaltningen",
        "filial-rosengard",
        ["sv", "ar", "so"],
        ["kc-lokal-service", "kc-forsta-linjen"],
    ),
    ("handlaggare", "Per Andersson", "caseworker", "asf", None, ["sv"], ["asf-forsorjningsstod", "asf-arbetsmarknad"]),
    ("bygglov", "Lena Ek", "caseworker", "sbk", None, ["sv", "en"], ["sbk-bygglov"]),
    ("samordnare", "Maria Holm", "coordinator", "asf", None, ["sv"], []),
    ("kultursamordnare", "Ali Hassan", "coordinator", "kultur", None, ["sv", "ar"], []),
    ("chef", "Eva Berg", "manager", "serviceforvaltningen", None, ["sv"], []),
    ("admin", "Admin Adminsson", "admin", "serviceforvaltningen", None, ["sv"], []),
    ("bibliotek", "Kim Persson", "location_staff", "kultur", "bibl-stadsbiblioteket", ["sv", "en"], []),
    ("dataskydd", "Nora Lindqvist", "dataskydd", "serviceforvaltningen", None, ["sv"], []),
]
