"""Placeholder for ``puff._native``.

The real module is created by the Puff runtime (``puff-cli`` or a Rust binary built on
puff-core) and registered in ``sys.modules`` before any Python code runs, so this file is
only ever imported outside the runtime, where it explains what to do.
"""

raise ImportError(
    "puff._native is provided by the Puff runtime and is not available in this process: "
    "run your code under `puff-cli` (e.g. `puff-cli runserver`, `puff-cli pytest`) or a "
    "Rust binary built on puff-core"
)
