"""Pure searches: what to judge next and what the judged verdicts conclude (no git, no scoring)."""
