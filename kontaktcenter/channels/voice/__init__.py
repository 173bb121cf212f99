"""Phone calls through Twilio: the call domain (menu, queues, callbacks), the voice webhooks, the agent's /phone page."""
