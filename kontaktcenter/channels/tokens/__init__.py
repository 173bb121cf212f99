"""API tokens, one kind for both the JSON API and Open311: table, issuing and checking, admin page, commands."""
