"""Development tools outside the served app: the Twilio traffic simulator and `kontaktcenter simulate`."""
