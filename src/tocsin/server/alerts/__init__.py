"""Alerts: the durable outbox of notifications and the worker that delivers them."""
