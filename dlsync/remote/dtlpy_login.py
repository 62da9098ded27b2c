"""dtlpy's login, read (never written) from its ``cookie.json``.

dtlpy 1.126.5 keeps its state in ``$DATALOOP_PATH/cookie.json``, else ``~/.dataloop/cookie.json``
(``services/service_defaults.py``, ``services/cookie.py``). Its ``login_parameters`` maps each
environment's API base URL, exactly as given to ``dl.setenv`` / ``dl.add_environment`` (for
production ``https://gate.dataloop.ai/api/v1``), to a dict that holds, among others, ``token``
and ``refresh_token`` (``ApiClient.token`` / ``ApiClient.refresh_token``). ``dl.login()``,
``dl.login_m2m()``, ``dl.login_token()`` and ``dl.login_api_key()`` all store there; an API key
is stored as ``token`` with no refresh token. dtlpy looks the environment up by the exact key;
dlsync also accepts the key with a trailing slash.

dtlpy rewrites the file in place (under its own ``cookie.json.lock``), so a read may catch it
half written: such a read is skipped with a warning, and the next start reads it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlsync import constants, logs
from dlsync.remote.credentials import Credentials

_log = logs.get_logger(__name__)

LOGIN_PARAMETERS = "login_parameters"


def cookie_path(env: Mapping[str, str]) -> Path:
    """``$DATALOOP_PATH/cookie.json``, else ``~/.dataloop/cookie.json`` (as dtlpy decides)."""
    folder = env.get(constants.DTLPY_PATH_ENV)
    if folder:
        return Path(folder) / constants.DTLPY_COOKIE
    home = env.get("HOME")
    base = Path(home) if home else Path.home()
    return base / ".dataloop" / constants.DTLPY_COOKIE


def _entry(parameters: Mapping[str, Any], url: str) -> Any:
    if url in parameters:
        return parameters[url]
    wanted = url.rstrip("/")
    for key, value in parameters.items():
        if isinstance(key, str) and key.rstrip("/") == wanted:
            return value
    return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        _log.warning("dtlpy's login cannot be read; it is not used", path=str(path),
                     reason=exc.strerror)
        return None
    try:
        body = json.loads(text)
    except ValueError:
        _log.warning("dtlpy's cookie is not valid JSON (being written?); it is not used this "
                     "time", path=str(path))
        return None
    return body if isinstance(body, dict) else None


def dtlpy_credentials(url: str, env: Mapping[str, str]) -> Credentials | None:
    """The token and refresh token dtlpy holds for the API base ``url``, or ``None``."""
    path = cookie_path(env)
    body = _read(path)
    parameters = body.get(LOGIN_PARAMETERS) if body else None
    entry = _entry(parameters, url) if isinstance(parameters, dict) else None
    if not isinstance(entry, dict):
        return None
    token, refresh = entry.get("token"), entry.get("refresh_token")
    if not isinstance(token, str) or not token:
        return None
    return Credentials(token=token,
                       refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                       source=f"dtlpy login ({path})")
