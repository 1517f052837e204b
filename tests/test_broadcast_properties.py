"""Properties of a subscription's bounded buffer and of history, against a plain model.

Any sequence of offers, takes and an end: what a subscription hands out, what it counts as
dropped and when it stops are exactly what the model of its policy says; and a joiner's
history on ``memory://`` is the last messages published, as many as asked and kept.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from shallot_ws import Broadcast
from shallot_ws.broadcast import POLICIES
from shallot_ws.broadcast.subscription import EMPTY, Subscription

# Offers outnumber takes, and an end is rare: buffers fill and overflow often.
operations = st.lists(
    st.tuples(st.sampled_from(["offer"] * 6 + ["take"] * 3 + ["end"]), st.integers(0, 99)),
    max_size=40,
)


class Model:
    """What a subscription must do, written as plainly as possible."""

    def __init__(self, buffer: int, policy: str) -> None:
        self.buffer, self.policy = buffer, policy
        self.kept: list[int] = []
        self.dropped = 0
        self.ended = self.overflowed = False

    def offer(self, message: int) -> None:
        if self.ended:
            return
        if len(self.kept) < self.buffer:
            self.kept.append(message)
            return
        self.dropped += 1
        if self.policy == "drop_oldest":
            self.kept = [*self.kept[1:], message]
        elif self.policy == "end":
            self.ended = self.overflowed = True

    def take(self) -> object:
        if self.overflowed:
            self.kept.clear()
            return StopAsyncIteration
        if self.kept:
            return self.kept.pop(0)
        return StopAsyncIteration if self.ended else EMPTY


def outcome(subscription: Subscription) -> object:
    try:
        return subscription.take()
    except StopAsyncIteration:
        return StopAsyncIteration


@given(st.integers(1, 5), st.sampled_from(POLICIES), operations)
def test_a_subscription_behaves_as_its_policy_says(buffer, policy, steps):
    subscription = Subscription("room", buffer, policy)
    model = Model(buffer, policy)
    for step in steps:
        if step[0] == "offer":
            subscription.offer(step[1])
            model.offer(step[1])
        elif step[0] == "end":
            subscription.end()
            model.ended = True
        else:
            assert outcome(subscription) == model.take()
        assert (subscription.dropped, subscription.overflowed) == (model.dropped, model.overflowed)
        assert subscription.ended == model.ended


@given(
    st.integers(0, 8),
    st.lists(st.tuples(st.integers(0, 10), st.integers(0, 19)), max_size=12),
)
def test_history_is_the_last_messages_published_as_many_as_asked_and_kept(keep, joins):
    """``joins``: (history asked, messages published just before that join)."""

    async def run() -> None:
        broadcast = Broadcast("memory://", keep=keep)
        published: list[object] = []
        for asked, count in joins:
            for _ in range(count):
                published.append(len(published))
                await broadcast.publish("room", published[-1])
            asked = min(asked, keep)
            async with broadcast.subscribe("room", history=asked) as subscription:
                assert subscription.history == (published[-asked:] if asked else [])
                published.append(f"live {len(published)}")
                await broadcast.publish("room", published[-1])
                assert await anext(subscription) == published[-1]  # live, not history
        await broadcast.aclose()

    asyncio.run(run())
