"""Pure search over verdicts: no git, no processes, no scoring (drivers live in bisector.hunt)."""
