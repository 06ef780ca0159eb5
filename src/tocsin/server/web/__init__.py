"""The ASGI application: ping routes, REST API, metrics."""
