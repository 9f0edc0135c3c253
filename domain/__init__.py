"""Domain model of the connector schema registry: aggregates, value objects, events, rules."""
