"""Running agents: the run lifecycle, the agent loop, live events."""
