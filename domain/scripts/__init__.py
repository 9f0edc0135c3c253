"""Collector-script versions of a connector: named, immutable, one of them the default."""
