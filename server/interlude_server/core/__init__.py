"""What every layer may use: version facts, and (F13) the error taxonomy, clock and deadlines."""
