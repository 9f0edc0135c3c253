"""The schema registry application: commands, ids, persistence wiring, settings and CLI."""
