"""A cold start's CPU from the kernel's per-task accounting: the instance's process group,
threads and reaped children included (real processes: /proc is the source)."""

from __future__ import annotations

import subprocess
import sys

from harness.platform.task_cpu import group_cpu_ms, process_cpu_ms

# burns about 300 ms of CPU in a thread of its own and 150 ms in a child it waits for, then
# says so and waits to be read
BURN = """
import subprocess, sys, threading, time
def burn(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
t = threading.Thread(target=burn, args=(0.3,)); t.start(); t.join()
subprocess.run([sys.executable, "-c",
                "import time\\nend = time.process_time() + 0.15\\n"
                "while time.process_time() < end: pass"], check=True)
print("done", flush=True)
time.sleep(60)
"""


def test_the_group_cpu_counts_exited_threads_and_reaped_children() -> None:
    proc = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True,
                            process_group=0)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
        cpu = group_cpu_ms([proc.pid])
        assert cpu is not None and cpu >= 400.0  # 300 + 150, less a tick or two
        alone = process_cpu_ms(proc.pid)
        assert alone is not None and abs(alone - cpu) < 1.0  # one process in the group
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert group_cpu_ms([proc.pid]) is None  # gone: the kernel cannot tell
