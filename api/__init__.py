"""HTTP API of the registry: a Litestar app over the registry and its read models."""
