"""Several server processes on one store: log follower, leases, worker supervisor (F11)."""
