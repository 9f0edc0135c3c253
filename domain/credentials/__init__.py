"""Credentials: secrets a connection authenticates with, an event-sourced resource of their own."""
