"""SMS through Twilio: conversation threads and delivery reports, and the webhooks."""
