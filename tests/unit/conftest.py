"""Fixtures of the read-model specifications: the seed's story, published once per module or per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tandem_runtime.database import SQLiteDatabase
from tests.scenarios import ReadSide, Story, seed_story


@pytest.fixture(scope="module")
def story() -> Story:
    return seed_story()


@pytest.fixture(scope="module")
def seeded(story: Story, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadSide]:
    """The story as published, read by every test that only looks."""
    side = ReadSide(SQLiteDatabase(str(tmp_path_factory.mktemp("read-model") / "read.db")))
    side.publish(story.events)
    yield side
    side.database.close()


@pytest.fixture
def unfolding(tmp_path) -> Iterator[tuple[Story, ReadSide]]:
    """A story of its own and its read side, for tests that tell what happens next."""
    story = seed_story()
    side = ReadSide(SQLiteDatabase(str(tmp_path / "read.db")))
    side.publish(story.events)
    yield story, side
    side.database.close()
