"""The web app for chemists: server-rendered pages (Jinja2) with a little vanilla JavaScript.

Pages call the same layers as the CLI and the JSON API (``chemloop.loop.campaign``,
``chemloop.loop.review``, ``chemloop.molecules``); nothing here computes chemistry or stores
rows itself. Reading is open; every action that changes state needs the API key, which the
sign-in form keeps in an HttpOnly, SameSite=Strict cookie (see :mod:`chemloop.serve.deps`).

The app (``chemloop.serve.app``) includes :data:`router` and serves ``chemloop/serve/static`` at
``/static``.
"""

from fastapi import APIRouter

from chemloop.serve.web import campaigns, grid, review, sign_in, upload

router = APIRouter(include_in_schema=False)  # pages, not part of the JSON API's schema
for _module in (sign_in, campaigns, grid, review, upload):
    router.include_router(_module.router)

__all__ = ["router"]
