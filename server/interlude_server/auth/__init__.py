"""Who is calling, and may they: authentication and authorization for every transport.

Nothing here imports grpc or aiohttp. A transport adapter collects the
credentials of a call (bearer token, verified client certificate, the
development buyer header) into `Credentials`, asks the `Authenticator` for the
`Principal` (buyer + scopes) or a DomainError (Unauthenticated, MissingScope),
and runs the call inside `acting_as(principal)` so every read and write is
scoped to that buyer.
"""
