"""The Kafka topics of the suite and an idempotent way to create them.

Run ``python -m tandem_runtime.topics --bootstrap HOST:PORT`` to create every topic
(it is what ``deploy/local/kafka.sh`` does after the broker starts).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

GOALS = "tandem.goals.v1"
CHECKINS = "tandem.checkins.v1"
REVIEWS = "tandem.reviews.v1"
DIRECTORY = "tandem.directory.v1"
DEAD_LETTER = "tandem.deadletter.v1"

ALL_TOPICS = (GOALS, CHECKINS, REVIEWS, DIRECTORY, DEAD_LETTER)
DEFAULT_PARTITIONS = 12


async def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[str, ...] = ALL_TOPICS,
    partitions: int = DEFAULT_PARTITIONS,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names it created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if missing:
            try:
                response = await admin.create_topics(
                    [NewTopic(name, partitions, replication_factor) for name in missing]
                )
            except TopicAlreadyExistsError:
                return missing  # another process won the race: the topics exist, which is all we want
            # aiokafka returns per-topic errors instead of raising them.
            for topic, code, *message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"cannot create topic {topic}: {message[0] if message else ''}")
        return missing
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create Tandem's Kafka topics idempotently.")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    args = parser.parse_args(argv)
    created = asyncio.run(ensure_topics(args.bootstrap, partitions=args.partitions))
    for name in ALL_TOPICS:
        print(f"{name}: {'created' if name in created else 'exists'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
