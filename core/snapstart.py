"""SnapStart (a prod stage's API functions, infra/functions.py): Lambda runs a version's
init once when it is published, snapshots the memory and starts new instances from the
snapshot. What is done before the snapshot is off every cold start, so the entry point's
component of the composition root (its boto3 clients included) is built then. After a
restore, what must differ between instances is made fresh: the `random` module's state
(retry jitter), which would otherwise be the same in every instance restored from one
snapshot. Elsewhere (tests, the local stack, functions without SnapStart) nothing runs.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable

# The Lambda Python runtime's (3.12 and later) hook registry.
RUNTIME_HOOKS = "snapshot_restore_py"


def register_snapshot_hooks(prime: Callable[[], object]) -> bool:
    """Whether the runtime took the hooks."""
    try:
        hooks = importlib.import_module(RUNTIME_HOOKS)
    except ImportError:
        return False
    hooks.register_before_snapshot(prime)
    hooks.register_after_restore(random.seed)
    return True
