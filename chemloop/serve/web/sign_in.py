"""Sign in by pasting a key (the server's API key, or a user's own from ``chemloop users add``): the
server checks it and answers with a random session token in a cookie that scripts cannot read
(HttpOnly), other sites cannot send (SameSite=Strict) and, over https, travels encrypted only
(Secure). The key itself never leaves the form post; the session remembers whose it was."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chemloop.serve.deps import SESSION_COOKIE, Settings, Work, refuse_cross_site
from chemloop.serve.web.templating import render
from chemloop.services import users

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
    request: Request,
    settings: Settings,
    workspace: Work,
    key: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> HTMLResponse | RedirectResponse:
    refuse_cross_site(request)
    user = users.identify(workspace, key.strip(), settings.api_key)
    if user is None:
        error = "That key is neither the server's API key nor a user's key."
        return render(request, "sign_in.html", status_code=401, next=safe_next(next), error=error)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.sessions.create(user),
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> RedirectResponse:
    """End this browser's sign-in on the server (its token stops working at once) and drop the cookie."""
    refuse_cross_site(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.sessions.end(token)
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=secure)
    return response
