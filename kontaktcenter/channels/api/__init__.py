"""JSON API v1 for systems: the contact request's schema, its OpenAPI document, its blueprint."""
