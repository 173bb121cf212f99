"""Dataskydd: gallring (retention per service), registerutdrag, the retention hold."""
