"""WSGI entry point: `gunicorn wsgi:app`."""

from kontaktcenter.app import create_app

app = create_app()
