"""Test-support code shared by the test suite (throwaway servers and the like)."""
