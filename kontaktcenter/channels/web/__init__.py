"""The public web form /kontakt: the citizen's form, the service catalogue it offers, its blueprint."""
