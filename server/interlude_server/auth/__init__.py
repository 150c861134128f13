"""Who is calling, and may they: authentication and authorization for every transport.

Nothing here imports grpc or aiohttp. A transport adapter collects the
credentials of a call (bearer token, verified client certificate, the
development buyer header) into `Credentials`, asks the `Authenticator` for the
`Principal` (buyer + scopes) or a DomainError (Unauthenticated, MissingScope),
and runs the call inside `acting_as(principal)` so every read and write is
scoped to that buyer.

A REST adapter serves HTTPS with `tls.server_ssl_context(settings.tls)` and, per
request, admits `http.http_credentials(request.headers, ssl_object)` for the full
gRPC method the route calls (or a REST-only operationId from
scopes.REST_ONLY_SCOPES), runs the call inside `acting_as(principal)`, and answers
a refusal with `http.http_refusal(exc)` (MEF 401/403 with RFC 6750 challenges).
"""
