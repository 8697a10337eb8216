import asyncio

import pytest

from chat.tests.helpers import RecordingLLM, SlowLLM, hang_up_all


@pytest.fixture(autouse=True)
async def _hang_up():
    yield
    await hang_up_all()


@pytest.fixture
async def counting_llm(settings):
    """An LLM address that counts connections: any request at all would show up."""
    connections = []

    async def accept(reader, writer):
        connections.append(1)
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    yield connections
    server.close()


@pytest.fixture
async def slow_llm(settings):
    llm = await SlowLLM().start()
    settings.LLM_BASE_URL = llm.url
    settings.LLM_MAX_TOKENS = 400
    yield llm
    llm.server.close()


@pytest.fixture
async def recording_llm(settings):
    """The test LLM behind a hop that keeps each request: `.requests[n]["messages"]` is the
    prompt the answer actually sent."""
    llm = await RecordingLLM(settings.LLM_BASE_URL).start()
    settings.LLM_BASE_URL = llm.url
    yield llm
    await llm.close()
