"""Inbound e-mail (SendGrid Inbound Parse): parsing a message into a contact, and the webhook."""
