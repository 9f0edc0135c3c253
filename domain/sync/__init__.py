"""Sync jobs: one run of a connector's collector script, from queued to finished."""
