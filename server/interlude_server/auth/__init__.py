"""Who is calling, and may they: authentication and authorization for every transport.

Nothing here imports grpc or aiohttp. A transport adapter collects the
credentials of a call (bearer token, verified client certificate, the
development buyer header) into `Credentials`, asks the `Authenticator` for the
`Principal` (buyer + scopes) or a DomainError (Unauthenticated, MissingScope),
and runs the call inside `acting_as(principal)` so every read and write is
scoped to that buyer.

A REST adapter serves HTTPS with `tls.server_ssl_context(settings.tls)` and does
the same per request:
`Credentials(bearer=bearer_token(request.headers.get("Authorization")),
certificate=tls.peer_certificate_of(transport.get_extra_info("ssl_object")))`,
`authenticator.admit(credentials, operation)` with the full gRPC method the route
calls (or a REST-only operationId from scopes.REST_ONLY_SCOPES), then the call
inside `acting_as(principal)`; Unauthenticated becomes 401 with `mef_code`,
MissingScope 403, NotFound 404.
"""
