"""New ids are random version-4 UUIDs, never repeated: across blocks of the random source, and in a forked child."""

import os
from uuid import UUID

from tandem_runtime.ids import random_uuid


def test_ids_are_version_4_and_unique_across_many_blocks():
    ids = [random_uuid() for _ in range(5_000)]  # about 20 reads of the random source

    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}
    assert all(isinstance(i, UUID) for i in ids)


def test_a_forked_child_does_not_repeat_its_parents_next_ids():
    random_uuid()  # the parent has a block in hand
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: send its next ids and leave at once
        os.write(writing, b"".join(random_uuid().bytes for _ in range(4)))
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    sent = os.read(reading, 64)
    os.close(reading)
    parents = [random_uuid() for _ in range(4)]

    childs = [UUID(bytes=sent[i : i + 16]) for i in range(0, 64, 16)]
    assert not set(childs) & set(parents)
