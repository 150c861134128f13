"""LSO Interlude gRPC server (Partner side)."""
