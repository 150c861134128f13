"""LSO Interlude client tools for Service Providers: typed sync and asyncio clients,
typed errors, resumable streams, and the `interlude` command line."""

from interlude_client.aio import AsyncInterludeClient
from interlude_client.channel import bearer, service_config, tls_credentials, tls_credentials_from_files
from interlude_client.client import InterludeClient
from interlude_client.errors import InterludeError

__all__ = [
    "AsyncInterludeClient",
    "InterludeClient",
    "InterludeError",
    "bearer",
    "service_config",
    "tls_credentials",
    "tls_credentials_from_files",
]
