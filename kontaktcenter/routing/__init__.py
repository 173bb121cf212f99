"""Routing: declarative rules in routing_rules/, the decision behind every ticket."""
