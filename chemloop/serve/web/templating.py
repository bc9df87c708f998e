"""Rendering pages: one Jinja2 environment (autoescaping on), URL building, number formatting,
and cached depictions and properties shared by every page."""

from __future__ import annotations

import base64
import math
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from chemloop.chem.mol import parent_smiles
from chemloop.serve.deps import current_user
from chemloop.services.molecules import depict_svg, properties

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def path(*segments: Any, **query: Any) -> str:
    """An absolute URL path from segments, each percent-encoded (a SMILES or a campaign name may hold
    ``/ # ? [ \\``), plus a query string of the non-empty ``query`` values."""
    url = "/" + "/".join(quote(str(s), safe="") for s in segments)
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return url + ("?" + urlencode(params) if params else "")


def one_segment(text: Any) -> bool:
    """Whether ``text`` survives as one path segment of a URL: percent-encoding carries any
    character, but a server decodes ``%2F`` back to a slash, and ``.`` / ``..`` move up the path."""
    text = str(text)
    return "/" not in text and text not in ("", ".", "..")


def number(value: float | int | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def measured(molecule: dict[str, Any]) -> str:
    """A molecule's measured results as a page shows them: the mean of its values and any censored
    results as written, with the assay's unit (``6.10 log units``, ``<5 log units``, ``–``)."""
    shown = [] if molecule.get("value") is None else [number(molecule["value"])]
    shown += molecule.get("censored") or []
    if not shown:
        return "–"
    unit = molecule.get("unit") or ""
    return "; ".join(shown) + (f" {unit}" if unit else "")


def plural(count: int, noun: str) -> str:
    """``1 bad row``, ``2 bad rows`` (a noun whose plural adds an s)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def with_unit(value: float | int | None, unit: str | None) -> str:
    """A value with its unit (``6.10 nM``); ``–`` without a value."""
    text = number(value)
    return f"{text} {unit}" if unit and value is not None else text


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=True),
    undefined=StrictUndefined,  # a misspelt variable fails the page (and the tests), not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["path"] = path
_env.globals["one_segment"] = one_segment
_env.globals["plural"] = plural
_env.filters["number"] = number
_env.filters["measured"] = measured
_env.filters["with_unit"] = with_unit
templates = Jinja2Templates(env=_env)


def here(request: Request) -> str:
    """The request's path and query: where the sign-in form sends the chemist back to."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = current_user(request)
    context.setdefault("signed_in", user is not None)
    context.setdefault("user", user)
    context.setdefault("here", here(request))
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status_code, message=message)


# Properties and depictions are pure functions of the canonical SMILES: compute each once per process.
@lru_cache(maxsize=8192)
def compound_props(smiles: str) -> dict[str, Any]:
    """:func:`chemloop.services.molecules.properties` of the molecule's parent compound (largest
    fragment, neutralized: what a chemist makes and registers; as written, a pH-7 ammonium's SA score
    is 1-1.7 higher and its cLogP lower), cached (treat the result as read-only)."""
    return properties(parent_smiles(smiles))


@lru_cache(maxsize=1024)  # a drawing of a long SMILES can be ~0.5 MB: keep the cache bounded
def svg(smiles: str, width: int, height: int) -> str:
    text = depict_svg(smiles, width, height)
    return text[text.find("<svg") :]  # drop the XML prolog so the markup can sit inside HTML too


def image_url(smiles: str, width: int = 320, height: int = 240) -> str:
    """A ``data:`` URL of the depiction, for an ``<img>`` that needs no second request (review page)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg(smiles, width, height).encode()).decode()
