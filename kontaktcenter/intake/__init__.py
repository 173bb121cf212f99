"""What happens to an incoming contact, whatever its channel: it is validated, stored,
placed (an existing ticket it may join, or a new routed one), and, in queued intake,
routed later by the intake worker. Above routing and casework; every channel calls it."""
