"""Channel adapters: a sub-package per way a citizen reaches the city (web, api, open311, email, sms,
voice, walkin), each with `views.py` (its blueprint) and its domain modules; `tokens/` serves api and
open311. The modules here are the pieces several channels share, and import no channel."""
