"""A clock that fake models advance, so the timings of a measurement under test are exact."""


class FakeClock:
    """Seconds that move only when a fake model sleeps on it; pass it where time.perf_counter goes."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, milliseconds: float) -> None:
        """What a fake model's call does instead of working: take this long."""
        self.now += milliseconds / 1000
