"""What to say when a library of the ``formats`` extra is missing.

YOLO, COCO and Pascal VOC support needs Pillow (image headers, mask PNGs), PyYAML (YOLO
``data.yaml``) and ijson (streamed COCO files). They live in the ``formats`` extra so that a
Dataloop-JSON-only install stays small; the codecs import them inside the functions that use
them and turn an ``ImportError`` into the ``ConfigError`` built here.
"""

from __future__ import annotations

from dlsync.errors import ConfigError

INSTALL_HINT = "install dlsync[formats] (pip install 'dlsync[formats]')"


def missing(package: str, purpose: str) -> ConfigError:
    """The error for a missing optional ``package`` needed for ``purpose``."""
    return ConfigError(f"{package} is needed for {purpose}: {INSTALL_HINT}")
