"""The event side: resume tokens, in-process fan-out of committed events, retention."""
