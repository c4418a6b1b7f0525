"""The case's statutory lifecycle: the state machine (operations), the clock and its deadline rows (clock),
what closing needs (closing), and recomputing provisional deadlines when a holiday table arrives (recompute)."""
