"""Each conversation's answers as a Redis stream: what lets an answer outlive its socket.

An answer's frames are appended to its conversation's stream, each with a sequence number
(`seq`) one above the last. Every socket of the session, in any daphne process, reads the
stream from the last number it saw, so a socket that comes back gets exactly what it
missed, then the live rest (docs/decisions/0012-resumable-answers.md).

The keys, by the conversation's token hash:
- `stream`: the frames, trimmed to about CHAT_STREAM_MAXLEN and gone CHAT_STREAM_TTL seconds
  after the last one;
- `seq`: the last number given. A new counter starts at the clock's milliseconds, so a
  number is never given twice, even after both keys expired;
- `answering`: held while an answer runs (one at a time per conversation, whichever tab
  asked); its value is the last number before the answer's first frame;
- `stop`: a Stop waiting for the answer's owner, in whichever process it runs;
- `present`: refreshed by every open socket of the session; when it lapses, the customer
  has been gone CHAT_ABANDON_SECONDS.
"""

import asyncio
import functools
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.conf import settings
from redis.exceptions import NoScriptError

from core.redisio import BLOCK_SECONDS, REDIS_DOWN, client, sync_client

# The longest wait between two tries while Redis is down.
OUTAGE_RETRY_MAX_SECONDS = 5.0

# Frames read from the stream per round trip: a long answer is replayed in bounded batches.
REPLAY_BATCH = 100

KEYS = ("stream", "seq", "answering", "stop", "present")

_APPEND = """
local seq = redis.call('INCR', KEYS[2])
if seq == 1 then
  seq = tonumber(ARGV[1])
  redis.call('SET', KEYS[2], seq)
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], seq .. '-0',
           'type', ARGV[3], 'frame', ARGV[4], 'origin', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return seq
"""
_BEGIN = """
local at = redis.call('GET', KEYS[2]) or '0'
if redis.call('SET', KEYS[1], at, 'NX', 'EX', ARGV[1]) then
  redis.call('DEL', KEYS[3])
  return at
end
return false
"""
_END = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""
_POSITION = """
local answering = redis.call('GET', KEYS[1])
if answering then return {answering, 1} end
return {redis.call('GET', KEYS[2]) or '0', 0}
"""


def key(token_hash: str, part: str) -> str:
    return f"chat:{part}:{token_hash}"


def _keys(token_hash: str, *parts: str) -> list[str]:
    return [key(token_hash, part) for part in parts]


@functools.cache
def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


async def _script(redis, script: str, numkeys: int, *keys_and_args):
    """Run a script by its hash, sending its text only when Redis lacks it (once after a
    restart): the append runs for every frame."""
    sha = _sha(script)
    try:
        return await redis.evalsha(sha, numkeys, *keys_and_args)
    except NoScriptError:
        return await redis.eval(script, numkeys, *keys_and_args)


@dataclass(frozen=True)
class Entry:
    """One frame of the stream, as the socket sends it: its JSON with `seq` added, spliced
    in as text, since every socket of the session sends every frame."""

    seq: int
    type: str
    stored: str  # the frame's JSON, without `seq`
    origin: str  # the socket whose question this is, or ""

    @property
    def text(self) -> str:
        return f'{self.stored[:-1]}, "seq": {self.seq}}}'

    @property
    def frame(self) -> dict:
        return json.loads(self.text)


async def append(*, token_hash: str, frame: dict, origin: str = "") -> int:
    """Add a frame to the conversation's stream; returns its `seq`."""
    return await _script(
        client(),
        _APPEND,
        2,
        *_keys(token_hash, "stream", "seq"),
        int(time.time() * 1000),
        settings.CHAT_STREAM_MAXLEN,
        frame["type"],
        json.dumps(frame),
        origin,
        settings.CHAT_STREAM_TTL,
    )


async def answer_begin(*, token_hash: str) -> int | None:
    """Claim the conversation for one answer: the `seq` before its first frame, or None
    while another answer runs. A Stop left from an earlier answer is cleared."""
    at = await _script(
        client(), _BEGIN, 3, *_keys(token_hash, "answering", "seq", "stop"), ANSWER_CLAIM_SECONDS
    )
    return None if at is None else int(at)


# The claim lapses this long after its owner last renewed it (a crashed process frees it).
ANSWER_CLAIM_SECONDS = 30


async def answer_end(*, token_hash: str, at: int) -> None:
    await _script(client(), _END, 1, key(token_hash, "answering"), str(at))


async def answer_watch(*, token_hash: str, wait: float) -> str | None:
    """Wait up to `wait` seconds for a Stop; renew the claim. Returns "stop", "abandoned"
    (no socket of the session has been open for CHAT_ABANDON_SECONDS), or None."""
    if await client(blocking=True).blpop([key(token_hash, "stop")], timeout=wait):
        return "stop"
    async with client().pipeline(transaction=False) as pipe:
        pipe.expire(key(token_hash, "answering"), ANSWER_CLAIM_SECONDS)
        pipe.exists(key(token_hash, "present"))
        _, present = await pipe.execute()
    return None if present else "abandoned"


async def stop_request(*, token_hash: str) -> None:
    """Ask the running answer to stop, whichever process runs it."""
    async with client().pipeline(transaction=True) as pipe:
        pipe.rpush(key(token_hash, "stop"), 1)
        pipe.expire(key(token_hash, "stop"), ANSWER_CLAIM_SECONDS)
        await pipe.execute()


async def present(*, token_hash: str) -> None:
    """A socket of the session is open now."""
    await client().set(key(token_hash, "present"), 1, ex=settings.CHAT_ABANDON_SECONDS)


async def is_present(*, token_hash: str) -> bool:
    """Has a socket of the session been open within CHAT_ABANDON_SECONDS?"""
    return bool(await client().exists(key(token_hash, "present")))


def position(*, token_hash: str) -> int:
    """Where a page that shows the stored transcript now should resume: before the
    running answer's first frame if one runs (its question and tokens are not all
    stored yet), else after the last frame. Synchronous, for the page's view."""
    with sync_client() as redis:
        at, _ = redis.eval(_POSITION, 2, *_keys(token_hash, "answering", "seq"))
    return int(at)


async def aposition(*, token_hash: str) -> tuple[int, bool]:
    """position(), and whether an answer is running."""
    keys = _keys(token_hash, "answering", "seq")
    at, answering = await _script(client(), _POSITION, 2, *keys)
    return int(at), bool(answering)


async def read(*, token_hash: str, after: int, wait: float = 0) -> list[Entry]:
    """Up to REPLAY_BATCH frames after `after`; waits up to `wait` seconds for one when
    there are none yet (0: never)."""
    stream = key(token_hash, "stream")
    if wait:
        block = int(min(wait, BLOCK_SECONDS) * 1000)
        reply = await client(blocking=True).xread(
            {stream: f"{after}-0"}, count=REPLAY_BATCH, block=block
        )
    else:
        reply = await client().xread({stream: f"{after}-0"}, count=REPLAY_BATCH)
    return [
        Entry(int(entry_id.split("-")[0]), fields["type"], fields["frame"], fields["origin"])
        for _, entries in reply or []
        for entry_id, fields in entries
    ]


async def follow(
    *, token_hash: str, after: int | None, every: float, customer: bool = True
) -> AsyncIterator[Entry]:
    """The frames after `after` (None: from the running answer's start, or from now), then
    each new one as it comes, forever; through a Redis outage, with back-off, from where it
    was. For a customer's socket the session is marked present on the way, at least every
    `every` seconds; an agent following the conversation is not its customer."""
    marked, delay = float("-inf"), 0.5
    while True:
        try:
            if after is None:
                after, _ = await aposition(token_hash=token_hash)
            if customer and time.monotonic() - marked >= every:
                await present(token_hash=token_hash)
                marked = time.monotonic()
            entries = await read(token_hash=token_hash, after=after, wait=every)
        except REDIS_DOWN:
            if asyncio.current_task().cancelling():
                raise  # redis-py turns a cancelled read into a ConnectionError
            await asyncio.sleep(delay)
            delay = min(delay * 2, OUTAGE_RETRY_MAX_SECONDS)
            continue
        delay = 0.5
        for entry in entries:
            after = entry.seq
            yield entry


def forget(*, token_hashes: list[str]) -> int:
    """Delete these conversations' streams and their keys (erasure, retention)."""
    keys = [key(token_hash, part) for token_hash in token_hashes for part in KEYS]
    if not keys:
        return 0
    with sync_client() as redis:
        return redis.delete(*keys)
