"""User administration: creating and changing staff accounts, one-time set-password links,
the admin audit log of every change to a user. Above auth/ (sign-in, sessions) and
directory/ (the User model); nothing below imports from here."""
