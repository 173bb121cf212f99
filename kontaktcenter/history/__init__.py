"""The history import: contacts from before this system (a CSV file) or the demo's made-up ones, written in bulk."""
