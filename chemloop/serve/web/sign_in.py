"""Sign in by pasting the API key: the server checks it and keeps it in a cookie that scripts
cannot read (HttpOnly) and other sites cannot send (SameSite=Strict)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.serve.deps import KEY_COOKIE, Settings
from chemloop.serve.web.templating import render

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a path on this site: ``//host`` or ``https://host`` would send the chemist elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "sign_in.html", next=safe_next(next), error=None)


@router.post("/sign-in", response_model=None)
def sign_in(
    request: Request, settings: Settings, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> HTMLResponse | RedirectResponse:
    if not secrets.compare_digest(key.strip().encode(), settings.api_key.encode()):
        error = "That key is not the server's API key."
        return render(request, "sign_in.html", status_code=401, next=safe_next(next), error=error)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        KEY_COOKIE,
        settings.api_key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
def sign_out() -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(KEY_COOKIE, httponly=True, samesite="strict")
    return response
