"""A campaign's series by scaffold and R group: Murcko scaffolds with counts and the best value,
and an R-group decomposition around the most common scaffold (or a core the chemist types)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from chemloop.chem.mol import molecule_key
from chemloop.errors import ChemloopError
from chemloop.serve.deps import Work
from chemloop.serve.web.templating import error_page, render
from chemloop.services import analysis
from chemloop.services.campaigns import UnknownCampaignError

router = APIRouter()


@router.get("/campaigns/{name}/series", response_class=HTMLResponse)
def series(
    request: Request, workspace: Work, name: str, core: Annotated[str, Query(max_length=1000)] = ""
) -> HTMLResponse:
    error = None
    try:
        try:
            found = analysis.series(workspace, name, core or None)
        except UnknownCampaignError:
            raise
        except ChemloopError as err:  # a core that does not parse: the default table, and why
            error = str(err)
            found = analysis.series(workspace, name)
    except UnknownCampaignError as err:
        return error_page(request, 404, str(err))
    return render(
        request,
        "series.html",
        name=name,
        series=found,
        assay=found.assay,
        core=core,
        keys={g.best_smiles: molecule_key(g.best_smiles) for g in found.scaffolds if g.best_smiles},
        error=error,
    )
