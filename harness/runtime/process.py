"""The process runtime (the embedded default): services as local OS processes.

Re-exports the resources the orchestrator and tests use; each lives in its own module.
"""

from harness.runtime.managed import ManagedProcess
from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.postgres import PostgresCluster
from harness.runtime.stopping import stop_group

__all__ = ["ManagedProcess", "PgBouncer", "PostgresCluster", "stop_group"]
