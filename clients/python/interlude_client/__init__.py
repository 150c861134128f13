"""LSO Interlude client tools for Service Providers."""
