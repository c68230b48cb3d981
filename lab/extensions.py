"""The commands whose work lives above the engine: `trace` (lab.tracer) and `grade` (lab.scenario). The
entry points (lab.cli, the tests' harness) hand load() to the engine (lab.engine.LOAD_HANDLERS), which calls
it on the first such command, so no lower layer imports upward (tests/test_layers.py holds the layers to that)."""
from __future__ import annotations


def load() -> None:
    import lab.scenario.headless  # noqa: F401  (registers grade)
    import lab.tracer.apply  # noqa: F401  (registers trace)
