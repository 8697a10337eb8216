"""One process follows many conversations' streams at once: each open socket (a customer's
chat, an agent's ticket page) holds a Redis connection for its blocking read, and none may
be turned away for want of one (redis-py 8 caps a pool at 100 unless told, and raises)."""

import asyncio
import uuid

from chat import streams


async def test_a_process_follows_more_streams_at_once_than_a_default_pool_holds():
    key = f"test-followers-{uuid.uuid4().hex}"
    try:
        after = await streams.append(token_hash=key, frame={"type": "token", "text": "a"})
        readers = [
            asyncio.create_task(streams.read(token_hash=key, after=after, wait=3))
            for _ in range(150)
        ]
        await asyncio.sleep(0.5)  # every reader waiting in its XREAD BLOCK
        await streams.append(token_hash=key, frame={"type": "token", "text": "b"})

        results = await asyncio.gather(*readers)

        assert [len(entries) for entries in results] == [1] * 150
    finally:
        await asyncio.to_thread(streams.forget, token_hashes=[key])
