"""How the state machines of the vault run: examples and steps per machine, no deadline (a step
waits for a store), and the health checks that a machine over real stores trips by design."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

__all__ = ["run_machine"]


def run_machine(machine: type[RuleBasedStateMachine], *, max_examples: int, steps: int) -> None:
    """Run ``machine`` for ``max_examples`` examples of up to ``steps`` steps."""
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            # a step over real stores is slow; a machine's preconditions may refuse many draws
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
