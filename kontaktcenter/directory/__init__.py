"""The directory: departments, services, queues, locations and staff."""
