"""Every error leaves as ``application/problem+json`` with a message that says what to fix."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import LoginRequired
from core import metrics
from domain.errors import DubanError, field_message

log = logging.getLogger("duban.api")
PROBLEM = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM

    def render(self, content: Any) -> bytes:
        # A message may echo what the client sent; never let odd input (lone surrogates) break the answer.
        return json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8", "replace")


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return ProblemResponse(body, status_code=status)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


_MESSAGES = {
    "missing": "必填",
    "extra_forbidden": "不认识的字段，请删除",
    "json_invalid": "请求体不是合法的 JSON",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "string_type": "应为文字",
    "string_unicode": "含有无效的 Unicode 字符（孤立代理项），请删除后重试",
    "dict_type": "应为对象（键值对）",
    "list_type": "应为列表",
    "literal_error": "取值不在允许范围内：{expected}",
    "enum": "取值不在允许范围内：{expected}",
    "string_too_long": "不能超过{max_length}个字符",
    "string_too_short": "至少需要{min_length}个字符",
    "too_long": "最多{max_length}项",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "string_pattern_mismatch": "格式不正确",
}


def _message(error: dict[str, Any]) -> str:
    return field_message(error, _MESSAGES)


def install_error_handlers(app: FastAPI) -> None:
    from flows.quiet import quiet_refusals

    quiet_refusals()  # a 4xx is one line in the log (the access log's), not Prefect's traceback

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(DubanError)
    async def _duban(_: Request, exc: DubanError) -> JSONResponse:
        response = problem(
            exc.status, exc.title, exc.detail, f"/problems/{_snake(type(exc).__name__)}",
            errors=exc.errors or None, **exc.extra,
        )
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            field = _loc(tuple(e.get("loc", ())))
            errors.append({"field": field, "message": _message(dict(e))})
        detail = "；".join(f"{x['field']}: {x['message']}" for x in errors)
        return problem(422, "输入有误", f"请求内容有误，请修改后重试：{detail}", "/problems/validation-failed", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "未找到", 405: "不支持的请求方法", 413: "请求体过大", 401: "需要登录", 403: "无权操作"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "没有这个地址；API 列表见 /docs"
        elif exc.status_code == 400:  # the framework could not parse the body; its own words are English
            detail = f"请求体无法解析：JSON 须为 UTF-8 编码的合法 JSON，文件上传须为完整的 multipart/form-data（{detail}）"
        elif exc.status_code == 405:
            detail = "这个地址不支持该请求方法；API 列表见 /docs"
        return problem(exc.status_code, titles.get(exc.status_code, "请求有误"), detail)

    @app.exception_handler(OperationalError)
    async def _busy(_: Request, exc: OperationalError) -> JSONResponse:
        # SQLite's write lock waited out its busy timeout under load: nothing was written, so a retry is safe.
        if "database is locked" in str(exc.orig):
            log.warning("database busy: %s", exc.orig)
            metrics.SQLITE_BUSY.inc()
            response = problem(503, "系统繁忙", "当前访问量较大，数据库正忙，本次操作未执行；请稍后重试", "/problems/busy")
            response.headers["Retry-After"] = "2"
            return response
        log.exception("database error", exc_info=exc)
        return problem(500, "服务器内部错误", "服务器处理请求时出错，已记录日志；请稍后重试或联系管理员")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "服务器内部错误", "服务器处理请求时出错，已记录日志；请稍后重试或联系管理员")
