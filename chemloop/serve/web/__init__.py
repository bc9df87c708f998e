"""The web app for chemists: server-rendered pages (Jinja2) with a little vanilla JavaScript.

Pages call the same layers as the CLI and the JSON API (``chemloop.loop.campaign``,
``chemloop.loop.review``, ``chemloop.services.molecules``); nothing here computes chemistry or stores
rows itself. Reading is open; every action that changes state needs a sign-in: the form checks
the API key and sets a random session token in an HttpOnly, SameSite=Strict cookie (see
:mod:`chemloop.serve.web.sign_in` and :mod:`chemloop.serve.security`).

The app (``chemloop.serve.app``) includes :data:`router` and serves ``chemloop/serve/static`` at
``/static``.
"""

from fastapi import APIRouter

from chemloop.serve.web import (
    api_docs,
    campaigns,
    grid,
    manage,
    notes,
    review,
    rounds,
    series,
    sign_in,
    upload,
)

router = APIRouter(include_in_schema=False)  # pages, not part of the JSON API's schema
for _module in (sign_in, campaigns, rounds, grid, notes, series, review, upload, manage, api_docs):
    router.include_router(_module.router)

__all__ = ["router"]
