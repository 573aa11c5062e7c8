"""Every command that talks to AWS fails in one line, with exit code 4, when AWS cannot be used.

A small local HTTP server plays the endpoint: it refuses, answers like something that is not AWS,
throttles, or denies permission, in the wire formats AWS uses (JSON for ECS/ECR/SSM, XML for STS).
"""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import orbit_data, write_yaml

COMMANDS = {
    "deploy": ["deploy", "--service", "pricing", "--image", "2026.12.0"],
    "rollback": ["rollback", "--service", "pricing"],
    "deploy-status": ["deploy-status"],
    "migration-check": ["migration-check"],
    "preflight": ["preflight"],
}


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "garbage"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        xml = "x-www-form-urlencoded" in self.headers.get("Content-Type", "")
        if self.mode == "garbage":
            self._answer(200, "<html><body>It works!</body></html>" if xml else "{}", "text/html" if xml else "application/json")
            return
        code, message = {"throttle": ("ThrottlingException", "Rate exceeded"),
                         "unexpected": ("ClusterNotFoundException", "Cluster not found."),
                         "denied": ("AccessDeniedException", "User: arn:aws:iam::1:user/oncall is not authorized")}[self.mode]
        if xml:
            code = {"ThrottlingException": "Throttling", "AccessDeniedException": "AccessDenied",
                    "ClusterNotFoundException": "InvalidParameterValue"}[code]
            body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
            self._answer(400, body, "text/xml")
        else:
            self._answer(400, f'{{"__type":"{code}","message":"{message}"}}', "application/x-amz-json-1.1")

    def _answer(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def fake_endpoint() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # throttling retried once, not six times, in a test
    monkeypatch.delenv("GENERATOR_DEBUG", raising=False)
    return write_yaml(tmp_path / "orbit.yaml", orbit_data())


FAULTS = ["refused", "not a url", "bad port", "garbage", "throttle", "denied", "unexpected refusal"]
EXPECTED = {
    "refused": "cannot reach AWS at http://127.0.0.1:",
    "not a url": "AWS_ENDPOINT_URL='localhost:5000' is not a URL",
    "bad port": "has a port that is not a number",
    "garbage": "is it an AWS endpoint?",
    "throttle": "2 times in a row",
    "denied": "permission denied: ",
    "unexpected refusal": "AWS refused ",
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_one_line_and_exit_4(command: str, fault: str, catalog: Path, fake_endpoint: Any, cli: Any,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = {"refused": f"http://127.0.0.1:{_closed_port()}", "not a url": "localhost:5000",
           "bad port": "http://127.0.0.1:port"}.get(fault, f"http://127.0.0.1:{fake_endpoint.server_address[1]}")
    monkeypatch.setattr(_Handler, "mode", "unexpected" if fault == "unexpected refusal" else fault)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    result = cli(*COMMANDS[command][:1], "--catalog", catalog, "--env", "live", *COMMANDS[command][1:],
                 "--timeout", "5") if command in ("deploy", "rollback") else \
        cli(*COMMANDS[command][:1], "--catalog", catalog, "--env", "live", *COMMANDS[command][1:])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    assert EXPECTED[fault] in lines[0], lines[0]
    if fault == "denied":  # the action is named
        assert any(f"permission denied: {action} " in lines[0] for action in (
            "ecr:DescribeImages", "ecs:DescribeServices", "sts:GetCallerIdentity", "ecs:DescribeTaskDefinition")), lines[0]
