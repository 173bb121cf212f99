"""Casework: the agent console, tickets, escalation and the knowledge base."""
