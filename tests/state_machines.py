"""Shared plumbing for the hypothesis state-machine tests of the ledger."""
from __future__ import annotations

import shutil
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from db.engine import create_db_engine, default_sqlite_url, session_factory, upgrade_to_head


class SqliteExampleMachine(RuleBasedStateMachine):
    """Each example runs on its own copy of a migrated SQLite file, removed afterwards."""

    template_path: Path
    work_dir: Path

    def __init__(self) -> None:
        super().__init__()
        self.db_path = self.work_dir / f"{uuid4().hex}.sqlite3"
        shutil.copyfile(self.template_path, self.db_path)
        self.engine = create_db_engine(f"sqlite+pysqlite:///{self.db_path}")
        self.sessions = session_factory(self.engine)
        self.serial = 0

    def teardown(self) -> None:
        self.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)

    def _fresh(self, prefix: str) -> str:
        """A key never used before in this example."""
        self.serial += 1
        return f"{prefix}{self.serial}"


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
