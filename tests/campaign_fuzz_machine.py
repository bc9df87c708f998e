"""The campaign-flow fuzz's state machine (run by test_campaign_fuzz.py): its rules and the
invariant that the server agrees after every step, with what each campaign holds in the model of
campaign_fuzz_model.py."""

from __future__ import annotations

import collections
import csv
import io
import itertools
from typing import Any
from urllib.parse import quote

import httpx
from campaign_fuzz_inputs import (
    AUTH,
    BAD_CREATE,
    GOOD_CREATE,
    MAX_BODY_BYTES,
    POOL,
    Seed,
    Upload,
    any_smiles,
    body_json,
    good_smiles,
    grown,
    seeds,
    uploads,
)
from campaign_fuzz_model import Stored
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

# --- the machine --------------------------------------------------------------------------------


_machines = itertools.count()
# Outcomes the run must reach at least once: a change to the strategies that loses one fails the
# test (raise max_examples, or make the rule likelier) rather than quietly testing less.
REACHED: collections.Counter[str] = collections.Counter()


class CampaignFlow(RuleBasedStateMachine):
    client: TestClient  # set by the test

    names = Bundle("names")

    def __init__(self) -> None:
        super().__init__()
        # Every run of the machine has campaigns of its own in the shared database.
        self.prefix = f"fz{next(_machines)}-"
        self.stored: dict[str, Stored] = {}
        self.before: tuple[str, tuple[int, Any]] | None = None  # the latest request's campaign, before it

    # --- requests -------------------------------------------------------------------------------

    def url(self, name: str, rest: str = "") -> str:
        return f"/api/campaigns/{quote(name, safe='')}{rest}"

    def snapshot(self, name: str) -> tuple[int, Any]:
        response = self.client.get(self.url(name))
        assert response.status_code in (200, 404), f"status of {name!r}: {response.status_code}"
        return response.status_code, response.json()

    def send(
        self, method: str, url: str, name: str | None = None, readonly: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """The response to a request, after checking it is no 5xx and that a refused request (or a
        ``readonly`` one) left campaign ``name`` exactly as it was, every field of its status."""
        kwargs.setdefault("headers", AUTH)
        shown = f"{method} {url} {_shown(kwargs)}"
        self.before = (name, self.snapshot(name)) if name is not None else None
        try:
            response = self.client.request(method, url, **kwargs)
        except Exception as err:  # the app raised: what would have been a 500
            raise AssertionError(f"{shown} raised {err!r}") from err
        assert response.status_code < 500, f"{shown} → {response.status_code}: {response.text[:2000]}"
        if name is not None and (readonly or not 200 <= response.status_code < 300):
            self.unchanged(f"{shown} → {response.status_code}")
        return response

    def unchanged(self, what: str) -> None:
        """Assert the campaign of the latest request is as it was before it."""
        assert self.before is not None
        name, before = self.before
        after = self.snapshot(name)
        assert after == before, f"{what} changed {name!r}: {before} → {after}"

    def expect(self, response: httpx.Response, codes: set[int] | range, why: str) -> None:
        request = response.request
        assert response.status_code in codes, (
            f"{request.method} {request.url} ({why}): expected {codes}, got {response.status_code}: "
            f"{response.text[:2000]}"
        )

    def model(self, name: str) -> Stored:
        return self.stored.setdefault(name, Stored())

    # --- creating -------------------------------------------------------------------------------

    def create(self, name: str, seed: Seed, extra: dict[str, Any] | None = None) -> None:
        stored = self.model(name)
        body = {"name": name, "seed": seed.rows, **(extra or GOOD_CREATE)}
        response = self.send("POST", "/api/campaigns", name, **body_json(body))
        if stored.exists:
            self.expect(response, {409, 422}, "the name is taken")
        elif extra is not None or not seed.valid:
            self.expect(response, {422}, "a bad config or seed row")
        else:
            self.expect(response, {201}, "a new campaign with good seed rows")
            self.stored[name] = Stored(exists=True)
            self.stored[name].remember("values", seed.good)
            if seed.good:
                self.stored[name].digests.add(seed.digest)
            tested = response.json()["molecules_tested"]
            assert tested == len(seed.molecules), f"{name!r} created from {seed.rows}: {tested} tested"
        self.check_listed()

    @initialize(target=names, seed=seeds(valid=True))
    def first_campaign(self, seed: Seed) -> str:
        name = f"{self.prefix}main"
        self.create(name, seed)
        return name

    @rule(
        target=names,
        suffix=st.sampled_from(["b", "c d", "e.1", "main"]),
        seed=seeds(),
        extra=st.one_of(st.none(), st.none(), st.none(), st.sampled_from(BAD_CREATE)),
    )
    def create_campaign(self, suffix: str, seed: Seed, extra: dict[str, Any] | None) -> str:
        name = f"{self.prefix}{suffix}"
        self.create(name, seed, extra)
        return name

    @rule(name=names, probe=st.sampled_from(["name", "oversized", "overrule", "job"]), data=st.data())
    def hostile_request(self, name: str, probe: str, data: st.DataObject) -> None:
        """One of the requests that must be refused whatever the state (one rule: more steps for the
        rules that store data)."""
        if probe == "name":
            hostile = ["/x", "/../x", "é", "名前", "\u202eb", "\n", "\x00", "x" * 100, "\t"]
            lead = data.draw(st.booleans(), label="lead")
            self.create_hostile_name(data.draw(st.sampled_from(hostile)), lead, data.draw(seeds(valid=True)))
        elif probe == "oversized":
            self.oversized_upload(name)
        elif probe == "overrule":
            self.overrule(name, data.draw(st.sampled_from([1, 2, 3, 50, 0, -1, 2**63]), label="id"))
        else:
            self.cancel_unknown_job(
                data.draw(st.sampled_from(["0123456789ab", "..%2Fetc", "ZZZ", "0" * 200]))
            )

    def create_hostile_name(self, hostile: str, lead: bool, seed: Seed) -> None:
        name = hostile + self.prefix if lead else self.prefix + hostile
        body = {"name": name, "seed": seed.rows, **GOOD_CREATE}
        response = self.send("POST", "/api/campaigns", **body_json(body))
        self.expect(response, {422}, "a name the naming rule refuses")
        self.check_listed()  # not created under any spelling
        found = self.send("GET", f"/api/campaigns/{quote(name, safe='')}")
        self.expect(found, {404, 422}, "a name that was refused")
        raw = self.send("GET", f"/api/campaigns/{name}") if "/" in name else found
        self.expect(raw, {404, 405, 422}, "a name that was refused, its slashes as they are")

    # --- results --------------------------------------------------------------------------------

    @rule(name=names, upload=uploads(hostile=False), skip=st.booleans())
    def import_results(self, name: str, upload: Upload, skip: bool) -> None:
        """A well-formed results file of molecules from outside the campaign (none is ever proposed)."""
        self.upload(name, upload, external=True, dry_run=False, skip=skip)

    @rule(
        name=names,
        upload=uploads(),
        external=st.booleans(),
        dry_run=st.booleans(),
        skip=st.booleans(),
    )
    def import_hostile_results(
        self, name: str, upload: Upload, external: bool, dry_run: bool, skip: bool
    ) -> None:
        self.upload(name, upload, external, dry_run, skip)

    def upload(self, name: str, upload: Upload, external: bool, dry_run: bool, skip: bool) -> None:
        stored = self.model(name)
        form = {"external": str(external).lower(), "dry_run": str(dry_run).lower()}
        form["skip_bad_rows"] = str(skip).lower()
        files = {"file": ("results.csv", upload.body, "text/csv")}
        url = self.url(name, "/results")
        response = self.send("POST", url, name, readonly=dry_run, files=files, data=form)
        what = f"{upload.kind} file, {len(upload.good)} good and {upload.bad} bad rows: {upload.describe}"
        if not stored.exists:
            self.expect(response, {404}, f"no such campaign; {what}")
        elif dry_run:
            self.expect(response, {200}, f"a dry run; {what}")
            preview = response.json()
            ok = upload.readable and not upload.bad and bool(upload.good) and external
            assert preview["ok"] == ok, f"preview of {what}: {preview}"
            assert preview["rows"] == (len(upload.good) if upload.readable else 0), f"{what}: {preview}"
        elif stored.archived:
            self.expect(response, {409}, f"an archived campaign takes no results; {what}")
        elif not upload.readable or not upload.good or (upload.bad and not skip) or not external:
            # Nothing was ever proposed: without `external` every row names an unproposed molecule.
            self.expect(response, range(400, 500), f"a file that cannot be stored as it is; {what}")
        elif upload.digest in stored.digests:
            self.expect(response, {200}, f"results stored before; {what}")
            assert response.json()["imported"] == 0, response.text
            REACHED["results stored once"] += 1
            self.unchanged(f"importing again {what}")
        else:
            self.expect(response, {200}, f"new results; {what}")
            found = response.json()
            new = stored.new_results(upload.kind, upload.good)
            assert found["imported"] == len(new), (what, found)
            if not new:  # every result stored before (by another file, perhaps with other rows)
                REACHED["results stored once"] += 1
                self.unchanged(f"results all stored before; {what}")
                return
            assert found["kind"] == upload.kind, (what, found)
            assert len({s["row"] for s in found["skipped"]}) == (upload.bad if skip else 0), (what, found)
            assert len(found["left_out"]) == upload.no_result + len(upload.good) - len(new), (what, found)
            if upload.no_result:
                REACHED["rows without a result left out"] += 1
            if len(new) < len(upload.good):
                REACHED["rows stored before left out"] += 1
            stored.digests.add(upload.digest)
            stored.stored_files.append(upload.body)
            if upload.kind == "values":
                stored.stored_sheets.append(upload)
            REACHED[f"{upload.kind} imported"] += 1
            self.reimport(name, upload.body, crlf=True)  # at once: stored once, whatever the bytes
            stored.remember(upload.kind, new)

    @rule(name=names, data=st.data())
    def import_grown_sheet(self, name: str, data: st.DataObject) -> None:
        """A values file, then the same file with one more row (as a lab's sheet grows): the rows
        stored the first time are left out the second."""
        stored = self.model(name)
        sheet = data.draw(uploads(hostile=False, shape="values"), label="sheet")
        self.upload(name, sheet, external=True, dry_run=False, skip=True)
        if sheet in stored.stored_sheets:
            self.upload(name, data.draw(grown(sheet), label="grown"), external=True, dry_run=False, skip=True)

    @rule(name=names, data=st.data(), crlf=st.booleans())
    def import_again(self, name: str, data: st.DataObject, crlf: bool) -> None:
        """The same results again (perhaps with other line endings): stored once, nothing changes."""
        stored = self.model(name)
        if stored.stored_files:
            self.reimport(name, data.draw(st.sampled_from(stored.stored_files), label="file"), crlf)

    def reimport(self, name: str, body: bytes, crlf: bool) -> None:
        stored = self.model(name)
        if crlf:  # other bytes, the same rows
            body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        files = {"file": ("again.csv", body, "text/csv")}
        form = {"external": "true", "skip_bad_rows": "true"}
        response = self.send("POST", self.url(name, "/results"), name, files=files, data=form)
        if stored.archived:
            self.expect(response, {409}, "an archived campaign takes no results")
        else:
            self.expect(response, {200}, f"results imported before: {body[:300]!r}")
            assert response.json()["imported"] == 0, response.text
            REACHED["results stored once"] += 1
            self.unchanged(f"importing again {body[:300]!r}")

    def oversized_upload(self, name: str) -> None:
        body = b"smiles,value\n" + b"CCO,1\n" * (MAX_BODY_BYTES // 6 + 10)
        files = {"file": ("big.csv", body, "text/csv")}
        data = {"external": "true"}
        response = self.send("POST", self.url(name, "/results"), name, files=files, data=data)
        self.expect(response, {413}, "a body above max_body_bytes")

    # --- feedback -------------------------------------------------------------------------------

    @rule(name=names, a=good_smiles, b=good_smiles, preferred=st.sampled_from(["a", "b"]), undo=st.booleans())
    def record_preference(self, name: str, a: str, b: str, preferred: str, undo: bool) -> None:
        """A chemist's choice; with ``undo``, taken back at once (the pair just recorded)."""
        recorded = self.prefer(name, a, b, preferred)
        if undo and recorded is not None:
            undone = self.take_back(name)
            assert undone is not None and undone["id"] == recorded["id"], (recorded, undone)

    @rule(name=names, rating=st.booleans(), data=st.data())
    def hostile_feedback(self, name: str, rating: bool, data: st.DataObject) -> None:
        """A preference or a rating with a bad SMILES, choice or rating, or an identical pair."""
        a = data.draw(any_smiles, label="smiles")
        if rating:
            values = [0, 6, -1, 2.5, 3.0, "4", True, None, 10**30, 3]
            self.rate(name, a, data.draw(st.sampled_from(values), label="rating"))
            return
        b = a if data.draw(st.booleans(), label="identical") else data.draw(any_smiles, label="b")
        self.prefer(name, a, b, data.draw(st.sampled_from(["a", "b", "A", "c", "", None]), label="preferred"))

    def prefer(self, name: str, a: str, b: str, preferred: str | None) -> dict[str, Any] | None:
        """Record a preference; the stored pair when the server took it."""
        stored = self.model(name)
        molecule = dict(POOL)
        body = {"smiles_a": a, "smiles_b": b, "preferred": preferred}
        response = self.send("POST", self.url(name, "/preferences"), name, **body_json(body))
        valid = a in molecule and b in molecule and preferred in ("a", "b")
        if not valid:
            self.expect(response, {404, 409, 422}, "a bad SMILES or choice")
        elif not stored.exists:
            self.expect(response, {404}, "no such campaign")
        elif stored.archived:
            self.expect(response, {409}, "an archived campaign takes no feedback")
        elif molecule[a] == molecule[b]:
            self.expect(response, {400, 422}, "the same molecule twice")
        else:
            self.expect(response, {201}, "a preference")
            stored.preferences += 1
            stored.undoable += 1
            return response.json()
        return None

    @rule(name=names, smiles=good_smiles, rating=st.integers(1, 5))
    def record_rating(self, name: str, smiles: str, rating: int) -> None:
        self.rate(name, smiles, rating)

    def rate(self, name: str, smiles: str, rating: Any) -> None:
        stored = self.model(name)
        body = {"smiles": smiles, "rating": rating}
        response = self.send("POST", self.url(name, "/ratings"), name, **body_json(body))
        valid = smiles in dict(POOL) and type(rating) is int and 1 <= rating <= 5
        if not valid:
            self.expect(response, {404, 409, 422}, "a bad SMILES or rating")
        elif not stored.exists:
            self.expect(response, {404}, "no such campaign")
        elif stored.archived:
            self.expect(response, {409}, "an archived campaign takes no feedback")
        else:
            self.expect(response, {201}, "a rating")
            stored.ratings += 1

    @rule(name=names)
    def undo_preference(self, name: str) -> None:
        self.take_back(name)

    def take_back(self, name: str) -> dict[str, Any] | None:
        """Undo the newest pair recorded one by one; the pair taken back, if any."""
        stored = self.model(name)
        response = self.send("POST", self.url(name, "/preferences/undo"), name)
        if not stored.exists:
            self.expect(response, {404}, "no such campaign")
        elif stored.archived:
            self.expect(response, {409}, "an archived campaign takes no undo")
        elif not stored.undoable:
            self.expect(response, {404}, "nothing to take back")
        else:
            self.expect(response, {200}, "the newest pair taken back")
            REACHED["preference taken back"] += 1
            stored.preferences -= 1
            stored.undoable -= 1
            return response.json()
        return None

    def overrule(self, name: str, preference: int) -> None:
        # No pair was ever judged: whichever id it names, an overrule is refused and changes nothing.
        response = self.send("POST", self.url(name, f"/judged/{preference}/overrule"), name)
        self.expect(response, range(400, 500), "no judged pair")

    @rule(
        name=names,
        data=st.data(),
        text=st.one_of(
            st.sampled_from(["synthesis failed", "Ünïcødé ✓\nsecond line", "<script>alert(1)</script>"]),
            st.sampled_from(["", "   ", "a\x00b", "\ud800", "x" * 2001]),
        ),
    )
    def add_note(self, name: str, data: st.DataObject, text: str) -> None:
        stored = self.model(name)
        keys = []
        if stored.exists:
            listed = self.send("GET", self.url(name, "/molecules"))
            self.expect(listed, {200}, "molecules of a campaign")
            keys = [m["key"] for m in listed.json()]
        key = data.draw(st.sampled_from([*keys, "0123456789abcdef", "not-a-key"]), label="key")
        response = self.send(
            "POST", self.url(name, f"/molecules/{key}/notes"), name, **body_json({"text": text})
        )
        cleaned = text.strip()
        good_text = (
            bool(cleaned) and len(text) <= 2000 and all(c in "\n\t" or c.isprintable() for c in cleaned)
        )
        if key == "not-a-key":
            self.expect(response, {422}, "not a molecule key")
        elif not stored.exists or key not in keys:
            self.expect(response, {404, 422}, "no such campaign or molecule")
        elif not good_text:
            self.expect(response, {422}, "a note that cannot be stored")
        else:
            self.expect(response, {201}, "a note (archived campaigns take notes too)")
            REACHED["note"] += 1
            stored.notes[key] = stored.notes.get(key, 0) + 1
        if stored.exists and key in keys:
            notes = self.send("GET", self.url(name, f"/molecules/{key}/notes"))
            assert len(notes.json()) == stored.notes.get(key, 0), notes.text

    # --- propose, jobs --------------------------------------------------------------------------

    @rule(
        name=names,
        batch=st.sampled_from(
            [
                "none",
                {},
                {"batch": None},
                {"batch": 1},
                {"batch": 3},
                {"batch": 1000},
                {"batch": 0},
                {"batch": -1},
                {"batch": 1001},
                {"batch": 2.5},
                {"batch": "x"},
                {"batch": 10**20},
                {"batch": 3, "extra": 1},
            ]
        ),
        delete=st.booleans(),
    )
    def propose(self, name: str, batch: Any, delete: bool) -> None:
        """Queue a propose job; with ``delete``, then try to delete the campaign: refused while the
        job waits (409), and nothing deleted."""
        stored = self.model(name)
        kwargs = {"headers": AUTH} if batch == "none" else body_json(batch)
        response = self.send("POST", self.url(name, "/propose"), name, **kwargs)
        size = None if batch == "none" else batch.get("batch")
        valid = (
            batch == "none"
            or set(batch) <= {"batch"}
            and (size is None or type(size) is int and 1 <= size <= 1000)
        )
        if not valid:
            self.expect(response, {422}, "a bad batch")
        elif not stored.exists:
            self.expect(response, {404}, "no such campaign")
        elif stored.archived:
            self.expect(response, {409}, "an archived campaign proposes no rounds")
        elif stored.job is not None:
            self.expect(response, {409}, "a propose job is already queued")
        else:
            self.expect(response, {202}, "a propose job")
            job = response.json()
            assert (job["kind"], job["status"]) == ("propose", "queued"), job
            stored.job = job["id"]
            REACHED["propose queued"] += 1
            if delete:
                refused = self.send("DELETE", self.url(name), name, params={"confirm": name})
                self.expect(refused, {409}, "a propose job is queued")
                REACHED["delete refused while a job is queued"] += 1

    @rule(name=names)
    def cancel(self, name: str) -> None:
        """Cancel the campaign's queued propose job: then it may propose again, or be deleted."""
        stored = self.model(name)
        if stored.job is None:
            return
        response = self.send("POST", f"/api/jobs/{stored.job}/cancel", name)
        self.expect(response, {200}, "cancel a queued job")
        assert response.json()["status"] == "cancelled", response.text
        stored.job = None
        REACHED["job cancelled"] += 1

    def cancel_unknown_job(self, job: str) -> None:
        response = self.send("POST", f"/api/jobs/{job}/cancel")
        self.expect(response, {404, 422}, "no such job")

    @rule(name=names, back=st.booleans())
    def archive(self, name: str, back: bool) -> None:
        """Archive the campaign, or bring it back (one rule: a run that archives also unarchives)."""
        stored = self.model(name)
        response = self.send("POST", self.url(name, "/unarchive" if back else "/archive"), name)
        self.expect(response, {200} if stored.exists else {404}, "unarchive" if back else "archive")
        stored.archived = stored.exists and not back
        self.check_listed()

    def check_listed(self) -> None:
        """The campaign list holds this run's campaigns as the model does, archived ones only when
        asked for. (Checked where the list changes, not every step: it holds every earlier run's.)"""
        everything = self.client.get("/api/campaigns", params={"archived": "true"}).json()
        listed = {c["campaign"]: c for c in everything if c["campaign"].startswith(self.prefix)}
        assert set(listed) == {n for n, s in self.stored.items() if s.exists}, listed
        for name, found in listed.items():
            stored = self.stored[name]
            expected = {"archived": stored.archived, "molecules_tested": len(stored.molecules)}
            assert {k: found[k] for k in expected} == expected, f"listed {found}, model {expected}"
        active = {c["campaign"] for c in self.client.get("/api/campaigns").json()}
        shown = {n for n in listed if n in active}
        assert shown == {n for n in listed if not self.stored[n].archived}, f"listed unarchived: {shown}"

    @rule(name=names, upload=uploads(hostile=False), smiles=good_smiles)
    def archived_refuses(self, name: str, upload: Upload, smiles: str) -> None:
        """Archive, then try to import, propose and rate: each refused (409), nothing stored; then
        bring the campaign back (the ``archive`` rule is the one that may leave it archived)."""
        stored = self.model(name)
        if not stored.exists:
            return
        self.archive(name, back=False)
        files = {"file": ("results.csv", upload.body, "text/csv")}
        form = {"external": "true", "skip_bad_rows": "true"}
        refused = [
            self.send("POST", self.url(name, "/results"), name, files=files, data=form),
            self.send("POST", self.url(name, "/propose"), name, **body_json({"batch": 2})),
            self.send("POST", self.url(name, "/ratings"), name, **body_json({"smiles": smiles, "rating": 3})),
        ]
        for response in refused:
            self.expect(response, {409}, "an archived campaign")
        REACHED["archived campaign refused a write"] += 1
        self.archive(name, back=True)

    @rule(
        name=names,
        confirm=st.sampled_from(["upper", "space", "empty", "short", "other", "long", "missing"]),
    )
    def delete_with_wrong_confirm(self, name: str, confirm: str) -> None:
        stored = self.model(name)
        wrong = {
            "upper": name.upper(),
            "space": name + " ",
            "empty": "",
            "short": name[:-1],
            "other": f"{self.prefix}main" if not name.endswith("main") else f"{self.prefix}b",
            "long": "x" * 201,
        }
        params = {} if confirm == "missing" else {"confirm": wrong[confirm]}
        response = self.send("DELETE", self.url(name), name, params=params)
        self.expect(response, {404, 422} if not stored.exists else {422}, "a wrong confirmation")

    @rule(name=names, seed=seeds(valid=True))
    def delete(self, name: str, seed: Seed) -> None:
        """Delete with the right confirmation: refused while a job is queued; once deleted, every
        endpoint answers 404. The name is then created afresh, and holds its new seed rows only."""
        stored = self.model(name)
        response = self.send("DELETE", self.url(name), name, params={"confirm": name})
        if not stored.exists:
            self.expect(response, {404}, "no such campaign")
            return
        if stored.job is not None:
            self.expect(response, {409}, "a propose job is queued")
            REACHED["delete refused while a job is queued"] += 1
            return
        self.expect(response, {200}, "delete")
        assert response.json()["deleted"] is True, response.text
        self.stored[name] = Stored()
        REACHED["deleted"] += 1
        self.check_listed()
        files = {"file": ("r.csv", b"smiles,value\nCCO,1\n", "text/csv")}
        gone = [
            self.send("GET", self.url(name, "/molecules")),
            self.send("GET", self.url(name, "/export")),
            self.send("GET", self.url(name, "/preferences/counts")),
            self.send("POST", self.url(name, "/results"), files=files, data={"external": "true"}),
            self.send("POST", self.url(name, "/propose")),
            self.send("POST", self.url(name, "/ratings"), **body_json({"smiles": "CCO", "rating": 3})),
            self.send("POST", self.url(name, "/archive")),
        ]
        for response in gone:
            self.expect(response, {404}, "a deleted campaign")
        self.create(name, seed)

    # --- reading --------------------------------------------------------------------------------

    @rule(name=names, fmt=st.sampled_from(["csv", "sdf", "xlsx"]))
    def export(self, name: str, fmt: str) -> None:
        stored = self.model(name)
        url = self.url(name, "/export")
        response = self.send("GET", url, name, readonly=True, params={"format": fmt})
        if fmt == "xlsx":
            self.expect(response, {422}, "an unknown format")
        elif not stored.exists:
            self.expect(response, {404}, "no such campaign")
        else:
            self.expect(response, {200}, "export")
            if fmt == "csv":
                rows = list(csv.DictReader(io.StringIO(response.text)))
            else:
                rows = response.text.split("$$$$")[:-1]
            assert len(rows) == len(stored.molecules), response.text[:2000]

    @invariant()
    def server_agrees(self) -> None:
        """Every campaign of this run holds what the model says; deleted ones are gone."""
        for name, stored in self.stored.items():
            code, status = self.snapshot(name)
            if not stored.exists:
                assert code == 404, f"{name!r} was deleted (or never created) but answers {status}"
                continue
            found = (status["molecules_tested"], status["preferences"], status["ratings"], status["rounds"])
            expected = (len(stored.molecules), stored.preferences, stored.ratings, [])
            assert found == expected, f"{name!r}: server {found}, model {expected}"
            if stored.job is not None:
                job = self.client.get(f"/api/jobs/{stored.job}").json()
                assert job["status"] == "queued", f"{name!r}: its propose job never runs here: {job}"


def _shown(kwargs: dict[str, Any]) -> str:
    """A request's body and parameters, short enough to read in a failure."""
    shown = {k: v for k, v in kwargs.items() if k != "headers"}
    return repr(shown)[:1500]
