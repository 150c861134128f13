"""Who is calling, and may they: authentication and authorization for every transport.

Nothing here imports grpc or aiohttp. A transport adapter collects the
credentials of a call (bearer token, verified client certificate, the
development buyer header) into `Credentials`, asks the `Authenticator` for the
`Principal` (buyer + scopes) or a DomainError (Unauthenticated, MissingScope),
and runs the call inside `acting_as(principal)` so every read and write is
scoped to that buyer.

The gRPC side is api/principal.py (AuthGate, behind the interceptor); the REST
side is rest/admission.py (an aiohttp middleware): it serves HTTPS with
`tls.server_ssl_context(settings.tls)`, admits `http.http_credentials(request.headers,
ssl_object)` for the gRPC method the route calls (rest/operations.py; hub
operations are REST-only operationIds of scopes.REST_ONLY_SCOPES), runs the call
inside `acting_as(principal)`, and answers a refusal with the MEF 401/403 of
`http.http_refusal(exc)`.
"""
