"""The platform's control plane is not starved by the instances it starts.

Instances are their own process group (the gateway freezes and kills them as a group) but
stay in the template's session: with autogroup scheduling, a session per instance made each
of hundreds of starting instances weigh as much as the template and the gateway together.
The template and the gateway raise their priority where the kernel lets them (root or
CAP_SYS_NICE); instances run at the priority the gateway was started with.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from harness.apphost.template import CONTROL_NICE
from harness.platform.pidfile import PIDFILE_NAME, read_pids
from harness.runtime.process import PostgresCluster
from tests.integration.test_platform import call, cluster, gateway

pytestmark = pytest.mark.integration
__all__ = ["cluster"]  # the module-scoped PostgreSQL fixture


def may_raise_priority() -> bool:
    return os.geteuid() == 0


def test_instances_have_their_own_group_in_the_template_session_at_our_priority(
        cluster: PostgresCluster, tmp_path: Path) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    with gateway(cluster, tmp_path) as gw:
        status, _ = call(f"{gw.url}/read")
        assert status == 200
        [instance] = gw.instances()
        pid = int(instance["pid"])
        template = read_pids(gw.workdir / PIDFILE_NAME)[0]
        assert os.getpgid(pid) == pid  # frozen and killed as a group
        assert os.getsid(pid) == os.getsid(template)  # not a session (autogroup) of its own
        assert psutil.Process(pid).nice() == ours
        control = [psutil.Process(gw.proc.pid).nice(), psutil.Process(template).nice()]
        if may_raise_priority():
            assert control == [min(CONTROL_NICE, ours)] * 2
        else:
            assert control == [ours, ours]
