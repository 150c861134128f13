"""Configuration schemas: the JSON Schema of each service configuration `@type`, and the check
every ordered configuration passes before policy ranges apply (see `validation`).

The `*.json` files here are the project's own schemas for the types its demo catalog ships.
"""
