"""Worker-pool heartbeats for RQ and Celery.

Two signals, both cheap:

- **liveness** (:class:`tocsin.workers.liveness.LivenessBeat`): a thread in each worker
  process writes a Redis key every few seconds; the health checks count live workers
  from it within seconds of a crash (RQ's own heartbeat takes minutes);
- **proof of work**: a heartbeat job/task runs *on the same queue* as the real work and
  pings a tocsin URL at its end, so silence means the pool stopped doing work.

Import :mod:`tocsin.workers.rq` or :mod:`tocsin.workers.celery`; this package itself
imports nothing heavy.
"""
