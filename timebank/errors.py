"""Domain errors. Services raise these; one handler maps them to HTTP status and message.

Each error carries its message in Chinese and English, so a person gets something they can
act on in their own language, whichever interface (page, JSON, CLI) reached the rule.
"""

from __future__ import annotations

from typing import Any


class ConfigError(Exception):
    """The service cannot start with the settings it was given."""


class TimebankError(Exception):
    """A request the rules refuse; ``status`` and ``code`` say how, the messages say why."""

    status = 400
    code = "bad_request"

    def __init__(
        self, en: str, zh: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh
        if code is not None:
            self.code = code
        self.details = details or {}

    def message(self, lang: str) -> str:
        """The message in ``lang`` (``zh-CN`` or ``en``)."""
        return self.en if lang == "en" else self.zh

    def body(self, lang: str) -> dict[str, Any]:
        """The JSON error body every API error uses."""
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message(lang),
            "messages": {"zh-CN": self.zh, "en": self.en},
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(TimebankError):
    status, code = 400, "bad_request"


class Unauthorized(TimebankError):
    status, code = 401, "unauthorized"


class Forbidden(TimebankError):
    status, code = 403, "forbidden"


class NotFound(TimebankError):
    status, code = 404, "not_found"


class Conflict(TimebankError):
    status, code = 409, "conflict"


class Invalid(TimebankError):
    status, code = 422, "invalid"
