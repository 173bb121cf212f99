"""Live pages: change notices published after commit, Server-Sent Events, the wallboard and the screen pop."""
