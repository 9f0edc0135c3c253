"""Connection tests: reach a connector's system with its config and credentials, for real."""
