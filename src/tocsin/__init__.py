"""tocsin: monitoring for web apps that run background work.

The top-level package stays import-light: the app library (``tocsin.health``,
``tocsin.heartbeat``, ``tocsin.tasks``, ``tocsin.flask``) never pulls in the server.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
