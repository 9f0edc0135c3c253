"""Read models fed by domain events: current schema and connector state, and change history."""
