"""Fixtures of the WeCom connector tests: a runtime whose backoff sleeps are recorded, not slept."""
import pytest

from connectors.runtime import make_runtime


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def runtime(sleeps):
    return make_runtime(sleep=sleeps.append)
