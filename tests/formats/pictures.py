"""Real image files for the codec tests, made with Pillow."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from dlsync.formats.images import EXIF_ORIENTATION


def make_image(path: Path, width: int, height: int, orientation: int | None = None) -> Path:
    """Write a ``width`` x ``height`` (stored) image; JPEG with an EXIF orientation if given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (width, height), (120, 30, 200))
    if orientation is None:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        image.save(path, exif=exif)
    return path


def box(label: str, left: float, top: float, right: float, bottom: float) -> dict[str, object]:
    """A Dataloop box annotation dict as the platform returns it (with server keys)."""
    return {"id": "a1", "type": "box", "label": label, "creator": "x@y.z",
            "coordinates": [{"x": left, "y": top, "z": 0}, {"x": right, "y": bottom, "z": 0}],
            "metadata": {"system": {"attributes": {}, "status": None}}}


def polygon(label: str, points: list[tuple[float, float]]) -> dict[str, object]:
    """A Dataloop segment (polygon) annotation dict with one ring."""
    return {"type": "segment", "label": label,
            "coordinates": [[{"x": x, "y": y, "z": 0} for x, y in points]]}
