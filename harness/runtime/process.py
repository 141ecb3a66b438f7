"""The process runtime (the embedded default): services as local OS processes.

Re-exports the resources the orchestrator and tests use; each lives in its own module.
"""

from harness.runtime.managed import ManagedProcess, stop_group
from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.postgres import PostgresCluster

__all__ = ["ManagedProcess", "PgBouncer", "PostgresCluster", "stop_group"]
