"""dtlpy logs in to the gate, creates and finds projects and datasets by name."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import jwt
import pytest

from dlsync.gate.server import RunningGate
from tests.dtlpy.sdk import DTLPY_MARKS, EMAIL, unique

pytestmark = DTLPY_MARKS


def test_login_token_is_accepted_and_kept(dl: ModuleType, gate: RunningGate) -> None:
    """login_token with a gate-minted JWT succeeds and dtlpy sends that token from then on."""
    token = gate.mint_token(email=EMAIL, ttl=3600)
    dl.login_token(token)
    assert dl.client_api.token == token
    assert dl.info()["user_email"] == EMAIL


def test_login_token_with_a_forged_token_is_refused(dl: ModuleType, gate: RunningGate) -> None:
    """A JWT not signed by the gate fails login_token and dtlpy keeps its previous token."""
    before = dl.client_api.token
    claims = {"email": EMAIL, "sub": EMAIL, "exp": 4102444800}
    forged = jwt.encode(claims, "a-key-the-gate-never-saw-0123456789", algorithm="HS256")
    with pytest.raises(ValueError, match="Invalid API key"):
        dl.login_token(forged)
    assert dl.client_api.token == before


def test_project_created_is_found_by_name_and_id(dl: ModuleType) -> None:
    """A project made with projects.create comes back by name and by id with the same id."""
    name = unique("proj")
    created = dl.projects.create(project_name=name)
    by_name = dl.projects.get(project_name=name)
    by_id = dl.projects.get(project_id=created.id)
    assert created.name == name
    assert (by_name.id, by_name.name) == (created.id, name)
    assert (by_id.id, by_id.name) == (created.id, name)


def test_unknown_project_name_is_not_found(dl: ModuleType) -> None:
    """projects.get for a name nobody created raises dtlpy's NotFound."""
    with pytest.raises(dl.exceptions.NotFound):
        dl.projects.get(project_name=unique("missing"))


def test_dataset_created_is_found_by_name_and_id(project: Any) -> None:
    """A dataset made in a project comes back by name and by id, linked to that project."""
    name = unique("ds")
    created = project.datasets.create(dataset_name=name)
    by_name = project.datasets.get(dataset_name=name)
    by_id = project.datasets.get(dataset_id=created.id)
    assert (by_name.id, by_name.name) == (created.id, name)
    assert (by_id.id, by_id.name) == (created.id, name)
    assert project.id in by_name.projects
    assert by_name.items_count == 0


def test_dataset_list_holds_each_created_dataset(project: Any) -> None:
    """project.datasets.list returns every dataset created in the project, once each."""
    names = {unique("listed") for _ in range(3)}
    ids = {project.datasets.create(dataset_name=name).id for name in names}
    listed = project.datasets.list()
    listed_ids = [dataset.id for dataset in listed]
    assert ids <= set(listed_ids)
    assert len(listed_ids) == len(set(listed_ids))


def test_unknown_dataset_name_is_not_found(dl: ModuleType, project: Any) -> None:
    """datasets.get for a name nobody created raises dtlpy's NotFound."""
    with pytest.raises(dl.exceptions.NotFound):
        project.datasets.get(dataset_name=unique("missing"))


def route_count(gate: RunningGate, route: str) -> int:
    """How many requests the gate has answered on ``route`` (e.g. ``GET /users/me``), any status."""
    return sum(gate.stats()["by_route"].get(route, {}).values())


def test_login_token_makes_one_users_me_request(dl: ModuleType, gate: RunningGate) -> None:
    """login_token checks the token with exactly one GET /users/me and nothing else."""
    total = gate.stats()["total"]
    before = route_count(gate, "GET /users/me")
    dl.login_token(gate.mint_token(email=EMAIL, ttl=3600))
    assert route_count(gate, "GET /users/me") == before + 1
    assert gate.stats()["total"] == total + 1


@pytest.fixture
def restore_token(dl: ModuleType, gate: RunningGate) -> Iterator[None]:
    """After the test, dtlpy is back on a long-lived token with no refresh token."""
    yield
    dl.client_api.token = gate.mint_token(email=EMAIL, ttl=3600)


@pytest.mark.usefixtures("restore_token")
def test_near_expiry_token_is_renewed_with_the_refresh_token(
        dl: ModuleType, gate: RunningGate) -> None:
    """A token within dtlpy's 60 s margin is swapped via POST /token?default, then the call runs."""
    dl.client_api.token = gate.mint_token(email=EMAIL, ttl=30)
    dl.client_api.refresh_token = gate.mint_refresh_token(email=EMAIL)
    short = dl.client_api.token
    before = route_count(gate, "POST /token")
    projects = dl.projects.list()
    assert route_count(gate, "POST /token") == before + 1
    assert dl.client_api.token != short
    assert not dl.client_api.token_expired()
    assert jwt.decode(dl.client_api.token, options={"verify_signature": False})["email"] == EMAIL
    assert len(projects) >= 1


def test_dataset_rename_is_stored(project: Any) -> None:
    """Renaming a dataset and calling update() makes it findable under the new name only."""
    dataset = project.datasets.create(dataset_name=unique("before"))
    new_name = unique("after")
    dataset.name = new_name
    dataset.update()
    assert project.datasets.get(dataset_name=new_name).id == dataset.id
    assert project.datasets.get(dataset_id=dataset.id).name == new_name


def test_dataset_delete_removes_it(dl: ModuleType, project: Any) -> None:
    """dataset.delete(sure, really) removes the dataset; getting it by id is then NotFound."""
    dataset = project.datasets.create(dataset_name=unique("doomed"))
    assert dataset.delete(sure=True, really=True) is True
    with pytest.raises(dl.exceptions.NotFound):
        project.datasets.get(dataset_id=dataset.id)


def test_project_delete_removes_it(dl: ModuleType) -> None:
    """project.delete(sure, really) removes the project; getting it by id is then NotFound."""
    project = dl.projects.create(project_name=unique("doomed"))
    assert project.delete(sure=True, really=True) is True
    with pytest.raises(dl.exceptions.NotFound):
        dl.projects.get(project_id=project.id)


def test_project_name_with_spaces_and_accents_is_found(dl: ModuleType) -> None:
    """A project name with spaces, accents and a slash-free symbol survives dtlpy's URL quoting."""
    name = unique("équipe données & co")
    created = dl.projects.create(project_name=name)
    assert dl.projects.get(project_name=name).id == created.id
