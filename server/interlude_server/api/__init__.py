"""The gRPC surface: servicers, interceptors, status mapping."""
