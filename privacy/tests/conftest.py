import pytest

from chat.tests.helpers import hang_up_all


@pytest.fixture(autouse=True)
async def _hang_up():
    yield
    await hang_up_all()
