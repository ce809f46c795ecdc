"""Shared plumbing for the hypothesis state-machine tests of the ledger."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from settlement.db import default_sqlite_url, upgrade_to_head


def migrated_template(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A migrated SQLite file each example copies, so examples do not pay for migrations."""
    template_dir = tmp_path_factory.mktemp(name)
    upgrade_to_head(default_sqlite_url(template_dir))
    return template_dir / "rfq.sqlite3"


def run_machine(machine: type, template: Path, work_dir: Path, max_examples: int, steps: int) -> None:
    class Machine(machine):
        template_path = template

    Machine.work_dir = work_dir
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            # The explain phase re-runs failures under coverage tracing: minutes per failure here.
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        ),
    )
