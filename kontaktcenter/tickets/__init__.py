"""Tickets (ärenden): references, status, messages and the event log."""
