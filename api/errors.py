"""Every error leaves as ``application/problem+json`` with a message that says what to fix."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DubanError

log = logging.getLogger("duban.api")
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
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
            message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
            if e.get("type") == "json_invalid":
                message = "请求体不是合法的 JSON"
            elif e.get("type") == "extra_forbidden":
                message = "不认识的字段，请删除"
            errors.append({"field": field, "message": message})
        detail = "；".join(f"{x['field']}: {x['message']}" for x in errors)
        return problem(422, "输入有误", f"请求内容有误，请修改后重试：{detail}", "/problems/validation-failed", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "未找到", 405: "不支持的请求方法", 413: "请求体过大", 401: "需要登录", 403: "无权操作"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "没有这个地址；API 列表见 /docs"
        return problem(exc.status_code, titles.get(exc.status_code, "请求有误"), detail)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "服务器内部错误", "服务器处理请求时出错，已记录日志；请稍后重试或联系管理员")
