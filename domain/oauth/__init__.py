"""OAuth grants: the pending authorization-code flows that end as a connector's credentials."""
