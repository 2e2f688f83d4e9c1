"""The generation slots of the fake OpenAI server (`fake_server.py`), as a self-hosted server has them."""

from __future__ import annotations

import asyncio
import collections


class Slots:
    """At most `size` requests generate at once; the others queue, first come first served. Each reply token
    takes `token_seconds`. A request whose client hangs up (times out) while queued or generating is dropped
    and frees its slot, as llama.cpp cancels it."""

    def __init__(self, size: int, token_seconds: float):
        self.size = size
        self.token_seconds = token_seconds
        self.active = 0
        self.max_active = 0
        self._queue: collections.deque[asyncio.Future] = collections.deque()

    async def take(self, reader: asyncio.StreamReader) -> bool:
        """Wait for a slot; False if the client hung up meanwhile."""
        if self.active < self.size and not self._queue:
            self.active += 1
        else:
            turn = asyncio.get_running_loop().create_future()
            self._queue.append(turn)
            while not turn.done():
                await asyncio.wait([turn], timeout=0.02)
                if not turn.done() and reader.at_eof():
                    self._queue.remove(turn)
                    return False
        self.max_active = max(self.max_active, self.active)
        return True

    def free(self) -> None:
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes to the next in line
                return
        self.active -= 1

    async def generate(self, tokens: int, reader: asyncio.StreamReader) -> bool:
        """Spend `tokens * token_seconds` in the slot; False if the client hung up meanwhile."""
        left = tokens * self.token_seconds
        while left > 0:
            step = min(left, 0.02)
            await asyncio.sleep(step)
            left -= step
            if reader.at_eof():
                return False
        return True
