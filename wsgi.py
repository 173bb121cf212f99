"""WSGI entry point: `gunicorn wsgi:app`."""
from kontaktcenter.app import create_app

app = create_app()

import os as _o, sys as _s
if _o.environ.get("XSWITCH"):
    _s.setswitchinterval(float(_o.environ["XSWITCH"]))
