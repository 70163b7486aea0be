"""Schemathesis over the live OpenAPI document, as anonymous, helper, coordinator and admin.

A real server (its own process, the demo data loaded) answers generated requests for every
operation: valid ones and ones that break the schema, with a fixed seed and a few examples
each so the run fits CI. No answer may be a server error, every answer must match the
documented status codes and schemas, and the ledger must verify afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.conftest import TEST_SECRET, clean_env, running_server
from timebank.demo import DEMO_PASSWORD

pytestmark = pytest.mark.slow

# Personas in an order where no one's run can lock the next one out; anonymous last, as
# its guesses at /session may trip the sign-in throttle.
PERSONAS = {
    "helper": "13800000003",
    "coordinator": "13800000002",
    "admin": "13800000001",
    "anonymous": None,
}
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


class Persona:
    """A signed-in member's cookie and CSRF token (nothing for anonymous)."""

    def __init__(self, base: str, phone: str | None) -> None:
        self.base, self.phone = base, phone
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.member_id = 0
        self.sign_in()

    def sign_in(self) -> None:
        if self.phone is None:
            return
        answer = requests.post(
            f"{self.base}/api/v1/session",
            json={"phone": self.phone, "password": DEMO_PASSWORD},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        self.cookies = {"tb_session": answer.cookies["tb_session"]}
        self.headers = {"X-CSRF-Token": answer.json()["csrf_token"]}
        self.member_id = answer.json()["member"]["id"]

    def still_signed_in(self) -> None:
        """Sign in again after an operation that ended the session (DELETE /session)."""
        if self.phone is None:
            return
        me = requests.get(f"{self.base}/api/v1/me", cookies=self.cookies, timeout=30)
        if me.status_code != 200:
            self.sign_in()


def first_lines(error: BaseException) -> str:
    """The failure codes and the first line of each, from schemathesis' report."""
    text = str(error)
    found = re.findall(r"^- (ST\d+ .*)$|^\s+(Received: \d+)|^\s+(curl .*)$", text, re.M)
    lines = [next(part for part in match if part)[:300] for match in found]
    return " | ".join(dict.fromkeys(lines)) or text.splitlines()[0][:300]


def run_operation(
    operation: Any, persona: Persona, mode: GenerationMode, protected: set[int]
) -> str | None:
    """Fuzz one operation as ``persona``; the failures found, or None."""
    strategy = operation.as_strategy(
        mode, headers=persona.headers or None, cookies=persona.cookies or None
    )
    if operation.method.lower() != "get":
        # The personas themselves stay as they are, so the next runs can sign in.
        strategy = strategy.filter(
            lambda case: (case.path_parameters or {}).get("member_id") not in protected
        )

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        response = case.call(timeout=30)
        case.validate_response(response, checks=CHECKS)

    try:
        fuzz()
    except Unsatisfiable:
        return None  # nothing to break (negative mode on an operation without inputs)
    except BaseException as error:  # schemathesis reports a BaseExceptionGroup
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        return first_lines(error)
    return None


def fuzz_everything(base: str, pick: Callable[[str, str], bool]) -> dict[str, str]:
    """Every persona over every operation; ``{persona METHOD path mode: failure}``."""
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    personas = {name: Persona(base, phone) for name, phone in PERSONAS.items()}
    protected = {p.member_id for p in personas.values() if p.member_id}
    failures: dict[str, str] = {}
    for name, persona in personas.items():
        for operation in operations:
            if not pick(name, f"{operation.method.upper()} {operation.path}"):
                continue
            for mode in EXAMPLES:
                persona.still_signed_in()
                found = run_operation(operation, persona, mode, protected)
                if found:
                    key = f"{name} {operation.method.upper()} {operation.path} {mode.value}"
                    failures[key] = found
    return failures


def signed_in_only(persona: str, operation: str) -> bool:
    """Sign-in itself is fuzzed anonymously (a persona's guesses would only sign it out)."""
    return persona == "anonymous" or operation not in {
        "POST /api/v1/session",
        "POST /api/v1/session/code",
    }


def server_errors(log: Path) -> list[str]:
    """The distinct exceptions in the server's log, for the failure message."""
    text = log.read_text(errors="replace")
    found = re.findall(r"^([\w.]+(?:Error|Exception)\w*: .{0,120})", text, re.M)
    return sorted(set(found))


async def test_fuzz_the_live_document(db_url: str, tmp_path: Path) -> None:
    env = clean_env(
        TIMEBANK_DB_URL=db_url,
        TIMEBANK_DATA_DIR=str(tmp_path / "var"),
        TIMEBANK_SECRET_KEY=TEST_SECRET,
        TIMEBANK_JOBS="off",
    )
    command = [sys.executable, "-m", "timebank", "serve", "--demo"]
    with running_server(command, env=env, cwd=tmp_path) as base:
        failures = fuzz_everything(base, signed_in_only)
    logs = list(tmp_path.glob("server-*.log"))
    verify = subprocess.run(
        [sys.executable, "-m", "timebank", "verify"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    errors = [line for log in logs for line in server_errors(log)]
    report = "\n".join(f"{k}: {v}" for k, v in sorted(failures.items()))
    assert not failures, f"{report}\n\nserver exceptions:\n" + "\n".join(errors)
