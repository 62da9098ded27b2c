"""dtlpy logs in to the gate with e-mail and password (``dl.login_m2m``)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from dlsync.gate.server import RunningGate
from tests.dtlpy.sdk import DTLPY_MARKS, unique

pytestmark = DTLPY_MARKS
PASSWORD = "m2m password 0123"


@pytest.fixture
def own_login(dl: ModuleType) -> Iterator[None]:
    """Restores the session's token and refresh token after a test that logs in or out."""
    token, refresh = dl.client_api.token, dl.client_api.refresh_token
    yield
    dl.client_api.token = token
    dl.client_api.refresh_token = refresh


@pytest.mark.usefixtures("own_login")
def test_login_m2m_gets_tokens_that_work(dl: ModuleType, gate: RunningGate) -> None:
    """login_m2m with a gate user's e-mail and password returns True, stores the id_token and
    refresh token, and calls needing auth then succeed as that user."""
    email = f"{unique('robot')}@dlsync.test"
    gate.add_user(email, PASSWORD)
    assert dl.login_m2m(email=email, password=PASSWORD) is True
    assert dl.info()["user_email"] == email
    assert dl.client_api.refresh_token
    project = dl.projects.create(project_name=unique("m2m"))
    assert project.creator == email
    assert dl.projects.get(project_id=project.id).id == project.id


@pytest.mark.usefixtures("own_login")
def test_login_m2m_with_a_wrong_password_is_refused(dl: ModuleType, gate: RunningGate) -> None:
    """A wrong password makes login_m2m return False and log dtlpy out (no token kept)."""
    email = f"{unique('robot')}@dlsync.test"
    gate.add_user(email, PASSWORD)
    assert dl.login_m2m(email=email, password="not the password") is False
    assert dl.client_api.token is None
