"""Open311 GeoReport v2: the spec's requests as domain functions, their table, the blueprint (JSON and XML)."""
