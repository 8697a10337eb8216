import asyncio

import pytest

from chat.tests.helpers import hang_up_all


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
