"""Contacts: one inbound interaction on one channel."""
