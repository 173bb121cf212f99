"""Walk-in visits at a location: registration and queue numbers, the forms, the staff screens."""
