"""Heartbeat engine: ping ingestion through a group-commit writer, and the deadline watch."""
