"""Connectors: the catalogue of connector types and the event-sourced Connector aggregate.

A connector is an instance of a catalogue type (S3, Confluence, a universal HTTP API...) that
holds the schemas describing the data it brings in. The package is pure domain code: it decides
what happened and records it as events; storing, encrypting and serving them is elsewhere.
"""
