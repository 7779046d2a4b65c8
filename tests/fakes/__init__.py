"""Fakes of external services, run for real on 127.0.0.1 so tests cross the network boundary."""
