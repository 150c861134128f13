"""Domain rules: resources, state machines, policy, idempotency. No grpc, no SQL."""
