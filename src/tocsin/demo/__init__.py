"""What ``tocsin demo`` runs: a small Flask app and RQ worker watched by a throwaway server.

- :mod:`tocsin.demo.app` — the Flask app (``/`` and tocsin's ``/healthz``);
- :mod:`tocsin.demo.worker` — the RQ worker (``TocsinWorker`` with a pool heartbeat);
- :mod:`tocsin.demo.children` — starting and stopping those and the server;
- :mod:`tocsin.demo.seed` — the demo's API key, admin user, channel and monitors;
- :mod:`tocsin.demo.receiver` — the webhook receiver that prints each alert;
- :mod:`tocsin.demo.control` — how ``--break``/``--fix`` find the running demo.
"""
