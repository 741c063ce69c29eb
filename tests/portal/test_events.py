from __future__ import annotations

import asyncio
import json

import pytest

from portal import events
from tests.conftest import run_async


def test_sse_frames_split_multiline_data():
    assert events.sse_frame("job", "a\nb") == "event: job\ndata: a\ndata: b\n\n"


@pytest.mark.integration
def test_stream_relays_published_events_and_releases_its_subscription(redis_url, redis_client):
    async def scenario():
        stream = events.stream(["user:424242"], keepalive=0.2)
        ready = await stream.__anext__()
        assert ready.startswith("event: ready")
        assert redis_client.pubsub_numsub(events.channel_name("user:424242"))[0][1] == 1
        events.publish_now(["user:424242"], "notify", {"text": "hello"})
        frame = await asyncio.wait_for(stream.__anext__(), 5)
        assert frame == 'event: notify\ndata: {"text":"hello"}\n\n'
        keepalive = await asyncio.wait_for(stream.__anext__(), 5)
        assert keepalive == ": keep-alive\n\n"
        await stream.aclose()
        assert redis_client.pubsub_numsub(events.channel_name("user:424242"))[0][1] == 0

    run_async(scenario())


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_publish_waits_for_commit(redis_url, redis_client):
    from django.db import transaction

    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(events.channel_name("job:1"))
    with transaction.atomic():
        events.publish(["job:1"], "job", {"id": 1})
        assert pubsub.get_message(timeout=0.3) is None
    message = pubsub.get_message(timeout=2)
    assert json.loads(message["data"]) == {"event": "job", "data": {"id": 1}}
    pubsub.close()
