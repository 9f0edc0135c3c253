"""Read models fed by domain events: current schema state and change history."""
