"""The exception tree of duban; the API maps it to HTTP in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DubanError(Exception):
    """Base of every error duban raises on purpose."""

    status = 400
    title = "请求有误"

    def __init__(
        self, detail: str, *, errors: list[dict[str, Any]] | None = None, status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        if status is not None:
            self.status = status
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class NotFound(DubanError):
    status = 404
    title = "未找到"


class Conflict(DubanError):
    status = 409
    title = "冲突"


class StaleVersion(Conflict):
    """The row changed since the client read it. Every such 409 has one shape: the field error
    ``version: stale`` and ``current_version``, the version to refresh to."""

    title = "版本已过期"

    def __init__(self, what: str, current_version: int | None) -> None:
        now = f"（当前版本号为 {current_version}）" if current_version is not None else ""
        super().__init__(f"{what}已被他人修改或处理{now}，请刷新后重试",
                         errors=[{"field": "version", "message": "stale"}], current_version=current_version)


class PermissionDenied(DubanError):
    status = 403
    title = "无权操作"


class InvalidTransition(DubanError):
    status = 409
    title = "当前状态不允许此操作"


class ValidationFailed(DubanError):
    status = 422
    title = "输入有误"


class DefinitionError(ValidationFailed):
    """A campaign definition file is invalid; the message names the file and the field."""

    title = "督办定义有误"


def field_message(error: Mapping[str, Any], templates: Mapping[str, str]) -> str:
    """A pydantic error (its ``type``, ``ctx`` and ``msg``) in words: the template of its type, formatted with its
    context, or else its own message without pydantic's "Value error, " prefix. Each caller keeps its own
    table: a JSON field and an Excel column want different words for the same problem."""
    template = templates.get(str(error.get("type")))
    if template:
        try:
            return template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            pass
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")
