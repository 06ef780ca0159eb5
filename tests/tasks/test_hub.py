"""The asyncio event hub: one pub/sub subscription fanned out to many subscribers."""

from __future__ import annotations

import asyncio

import redis

from tests.tasks.conftest import StoreFactory
from tocsin.tasks import Change, TaskState
from tocsin.tasks.records import event_sort_key
from tocsin.tasks.redis_store import RedisTaskStore
from tocsin.tasks.store import KEEPALIVE_TICK


async def test_one_subscription_feeds_many_subscribers(redis_url: str) -> None:
    # Built from a client, not a URL: the hub reuses the client's connection settings.
    store = RedisTaskStore(redis.Redis.from_url(redis_url), prefix="hubtest")
    hub = store.event_hub()
    task = store.create("report")
    other = store.create("other")
    subscriptions = [hub.subscribe(task.id) for _ in range(50)]
    await hub.ready()
    await asyncio.to_thread(store.update, other.id, Change(TaskState.STARTED))
    await asyncio.to_thread(store.update, task.id, Change(TaskState.STARTED))
    await asyncio.to_thread(store.update, task.id, Change(TaskState.SUCCEEDED))
    firsts = []
    for subscription in subscriptions:
        first = await asyncio.wait_for(subscription.get(), 5)
        second = await asyncio.wait_for(subscription.get(), 5)
        assert not isinstance(first, str | None)
        assert not isinstance(second, str | None)
        assert [first.record.state, second.record.state] == ["started", "succeeded"]
        assert event_sort_key(first.id) < event_sort_key(second.id)
        firsts.append(first)
    # Every subscriber got the same event object, so it is rendered once for all of them.
    assert all(event is firsts[0] for event in firsts)
    subscriptions[0].nudge()
    assert await subscriptions[0].get() == KEEPALIVE_TICK
    for subscription in subscriptions:
        subscription.close()
    clients = redis.Redis.from_url(redis_url).client_list(_type="pubsub")
    assert len([c for c in clients if c["db"] == redis_url.rsplit("/", 1)[1]]) == 1
    await hub.aclose()
    store.close()


async def test_hub_on_every_backend(make_store: StoreFactory) -> None:
    """Redis pushes through pub/sub; SQL polls once per watched task, not once per stream."""
    store = make_store()
    hub = store.event_hub()
    assert hub is not None
    task = store.create("report")
    subscriptions = [hub.subscribe(task.id) for _ in range(20)]
    await hub.ready()
    await asyncio.to_thread(store.update, task.id, Change(TaskState.STARTED))
    await asyncio.to_thread(store.update, task.id, Change(TaskState.SUCCEEDED))
    for subscription in subscriptions:
        states = []
        while not states or states[-1] != "succeeded":
            item = await asyncio.wait_for(subscription.get(), 5)
            assert item is not None
            assert not isinstance(item, str)
            states.append(item.record.state)
        # The polling hub starts a new task's cursor at the beginning of its log (no gaps);
        # streams drop what they already sent.
        assert states[-2:] == ["started", "succeeded"]
        subscription.close()
    await hub.aclose()
