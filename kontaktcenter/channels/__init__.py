"""Channel adapters: one module per way a citizen reaches the city."""
