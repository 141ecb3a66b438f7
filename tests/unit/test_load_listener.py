"""The Locust ``request`` listener's row per request, and the body reading it relies on.

The listener lives in the Locust plugin, whose import patches the process with gevent: it
runs in a subprocess here, fed responses shaped like Locust's (``response_length`` as Locust
passes it: the body's length, or a streamed response's declared length, else 0).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.load.outcome import Outcome, classify
from harness.load.request_frame import read_request_logs

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path
from harness.load.locust_plugin import _request_listener
from harness.load.request_log import RequestLogWriter

class Response:
    def __init__(self, status, body, headers=None):
        self.status_code, self._body, self.headers = status, body, headers or {}
    @property
    def content(self):
        if self.headers.get("content-type") == "text/event-stream":
            raise AssertionError("an event stream's content was read")
        return self._body

log = RequestLogWriter(Path(sys.argv[1]))
on_request = _request_listener(log)
def fire(t, name, response, length, exception=None):
    on_request(request_type="GET", name=name, response_time=1.5, response_length=length,
               response=response, context={}, exception=exception, start_time=t, url="/")
fire(1.0, "read", Response(200, b'{"instance": "i-1", "counter": 7}'), 33)
fire(2.0, "events", Response(200, b"", {"content-type": "text/event-stream"}), 0)
fire(3.0, "empty", Response(204, b""), 0)
fire(4.0, "custom", Response(503, b'{"error": {"kind": "db_other"}, "instance": "i,2"}'), 0)
fire(5.0, "slow", None, 0, TimeoutError("timed out"))
log.close()
"""


def test_one_row_per_request_with_what_the_body_says(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    frame = read_request_logs(tmp_path)
    assert frame["endpoint"].tolist() == ["read", "events", "empty", "custom", "slow"]
    assert frame["status"].tolist() == [200, 200, 204, 503, 0]
    assert frame["kind"].tolist() == ["", "", "", "db_other", "timeout"]
    assert frame["instance"].tolist() == ["i-1", "", "", "i,2", ""]  # i,2: quoted
    assert frame["counter"].tolist() == [7, -1, -1, -1, -1]
    assert frame["latency_ms"].tolist() == [1.5] * 5


def test_a_body_is_read_as_json_loads_reads_it() -> None:
    assert classify(200, b'{"instance": "a"}\r\n \t', None) == Outcome("", "a", -1)
    assert classify(200, b'{"instance": "a"} {"instance": "b"}', None) == Outcome("", "", -1)
    assert classify(500, b'{"error": {"kind": "x"}} x', None).kind == "http_5xx"
    assert classify(200, b'{"instance": "\\u00e9", "counter": 2}', None) == Outcome("", "é", 2)
    assert classify(200, b'{"instance": 1, "counter": true}', None) == Outcome("", "1", -1)
    assert classify(200, '{"instance": "\u00e9"}'.encode("latin-1"), None).instance == ""
