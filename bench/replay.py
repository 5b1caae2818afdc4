"""`python -m bench.replay EVENTS`: a Bybit liquidation stream replaying EVENTS events, in its own process.

The bench reads it over loopback as the recorder reads the exchange, so the replay's own work
(building and sending frames) does not share the recorder's interpreter, and it sends frames
uncompressed, so that compressing them does not make the replay the slower side. It prints the
stream's URL on one line, then serves until its standard input closes.
"""

from __future__ import annotations

import asyncio
import sys

import websockets

from tests.fake_streams import FakeStream, bybit_message

BATCH = 100  # events per `allLiquidation` frame (Bybit batches every 500 ms)
T0 = 1_700_000_000_000  # epoch ms of the first replayed event


def script(events: int) -> list[str]:
    """`events` BTCUSDT liquidations in frames of BATCH, alternating sides, every one distinct."""
    return [
        bybit_message(
            [
                ("BTCUSDT", "Buy" if j % 2 else "Sell", 90_000.0 + j, 0.001 * (j + 1), T0 + i * BATCH + j)
                for j in range(BATCH)
            ]
        )
        for i in range(events // BATCH)
    ]


async def serve(events: int) -> None:
    """Serve the replay of `events` events until stdin closes."""
    stream = FakeStream("bybit", script(events))
    async with websockets.serve(stream.handler, "127.0.0.1", 0, compression=None) as server:
        host, port = next(iter(server.sockets)).getsockname()[:2]
        print(f"ws://{host}:{port}", flush=True)
        await asyncio.to_thread(sys.stdin.read)


def main() -> None:
    """Entry point: `python -m bench.replay EVENTS`."""
    asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
