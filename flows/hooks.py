"""State hooks of every procedure flow: they record, the sweepers escalate (see issue 4)."""
