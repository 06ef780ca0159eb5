"""Built-in checks, one module each, so that importing one pulls in only its client.

- :mod:`tocsin.health.checks.redis` — ping and latency;
- :mod:`tocsin.health.checks.rq` — RQ queues: depth, age, failed, stuck, overdue, workers;
- :mod:`tocsin.health.checks.celery` — Celery workers and queues (Redis or RabbitMQ);
- :mod:`tocsin.health.checks.sql` — the database accepts a write (SQLAlchemy);
- :mod:`tocsin.health.checks.http` — an HTTP dependency answers (standard library);
- :mod:`tocsin.health.checks.disk` — free disk space (standard library).
"""
