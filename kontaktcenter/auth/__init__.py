"""Sign-in, passwords and role checks for staff."""
