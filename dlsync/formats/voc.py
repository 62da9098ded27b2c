"""Pascal VOC label files: one ``.xml`` per image, axis-aligned boxes in pixels.

Layout: the item ``a/b.jpg`` pairs with ``DIR/a/b.xml`` (VOC keeps ``JPEGImages/`` and
``Annotations/``; the first is the source root, the second ``DIR``). Each ``object`` element is
one box::

    <object><name>cat</name><difficult>0</difficult><truncated>1</truncated>
            <bndbox><xmin>48</xmin><ymin>240</ymin><xmax>195</xmax><ymax>371</ymax></bndbox>
    </object>

``name`` is the label (surrounding spaces stripped), ``bndbox`` the box in pixels of the
displayed image (EXIF orientation applied; read as LabelImg and CVAT write it,
0 ≤ xmin ≤ xmax ≤ width). Of ``difficult``, ``truncated`` and ``occluded`` (0/1), those that are
1 become ``True`` attributes of those names (0 and absent are the same). Writing
produces the same schema with ``size`` (width, height, depth) filled from the image header;
a written file replaces the old one, so elements dlsync does not read (``pose``, ``part``) are
not kept. Errors name the file and the element (``object[2]/bndbox/xmax``): XML that does not
parse, a missing or non-numeric element, a box outside the image or inverted.

The XML is parsed by the standard library's expat, which since expat 2.4.1 limits entity
expansion (billion laughs) and never fetches external entities; files declaring a DOCTYPE are
refused all the same, as VOC has no use for one. That is why ``defusedxml`` is not needed.

**Projection**::

    box  {"type": "box", "label": L, "geometry": [xmin, ymin, xmax, ymax],
          "attributes": {"difficult": true, ...}}

Edges are clamped to the image and rounded to whole pixels (VOC files hold integers), so the
file and the platform agree to ``GEOMETRY_TOLERANCE_PX``; ``attributes`` holds those of the three
flags that are true (a missing flag and a false one are the same). Everything else (other
attributes, metadata, rotated boxes, polygons, points, other types) projects to ``None``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from dlsync import constants
from dlsync.bounded import read_up_to
from dlsync.errors import AnnotationFileError
from dlsync.formats import geometry
from dlsync.formats.codec import Annotation, WriteResult
from dlsync.formats.images import ImageSize, image_size
from dlsync.local.atomic import write_text

SUFFIX = ".xml"
FLAGS = ("difficult", "truncated", "occluded")
EDGES = ("xmin", "ymin", "xmax", "ymax")
TRUE_TEXT = {"1": True, "0": False, "true": True, "false": False}


class VocCodec:
    """Reads and writes the Pascal VOC files under ``annotations_dir``."""

    name = "voc"

    def __init__(self, annotations_dir: Path) -> None:
        self.annotations_dir = annotations_dir

    def label_path(self, rel_path: str) -> Path:
        return self.annotations_dir / Path(rel_path).with_suffix(SUFFIX)

    def read(self, source_root: Path, rel_path: str) -> list[Annotation]:
        return self.parse(self.label_path(rel_path), image_size(source_root / rel_path))

    def parse(self, path: Path, size: ImageSize) -> list[Annotation]:
        """The annotations of the VOC file at ``path``, for an image of ``size``."""
        root = _parse(path)
        return [_annotation(element, f"object[{i}]", size, str(path))
                for i, element in enumerate(root.iter("object"), start=1)]

    def write(self, source_root: Path, rel_path: str,
              annotations: Sequence[Mapping[str, Any]]) -> WriteResult:
        return self.write_to(self.label_path(rel_path), rel_path,
                             image_size(source_root / rel_path), annotations)

    def write_to(self, path: Path, rel_path: str, size: ImageSize,
                 annotations: Sequence[Mapping[str, Any]]) -> WriteResult:
        """Replace the file at ``path`` with the expressible ``annotations`` of the image
        ``rel_path`` of ``size``."""
        found = [(i, self.project(a, size)) for i, a in enumerate(annotations)]
        kept = [p for _, p in found if p is not None]
        write_text(path, _document(rel_path, size, kept))
        return WriteResult(path, len(kept), tuple(i for i, p in found if p is None))

    def project(self, annotation: Mapping[str, Any], size: ImageSize) -> Annotation | None:
        label, box = geometry.label_of(annotation), geometry.box_of(annotation)
        if label is None or not label.strip() or box is None:
            return None
        left, top, right, bottom = box
        edges = [round(geometry.clamp(v, 0, extent)) for v, extent in
                 ((left, size.width), (top, size.height), (right, size.width),
                  (bottom, size.height))]
        attributes = geometry.attributes_of(annotation)
        flags = {name: True for name in FLAGS if attributes.get(name) is True}
        return {"type": "box", "label": label.strip(), "geometry": edges, "attributes": flags}


def _parse(path: Path) -> ET.Element:
    try:
        with open(path, "rb", buffering=0) as file:
            data = read_up_to(file.fileno(), constants.ANNOTATION_MAX_BYTES)
    except OSError as exc:
        raise AnnotationFileError(str(path), f"cannot read: {exc.strerror}") from exc
    if len(data) > constants.ANNOTATION_MAX_BYTES:
        raise AnnotationFileError(str(path), "over the size limit; not read")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise AnnotationFileError(str(path), "declares a DOCTYPE or entities; refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise AnnotationFileError(str(path), f"malformed XML at line {line} column {column}"
                                  ) from exc
    if root.tag != "annotation":
        raise AnnotationFileError(str(path), f"root element is <{root.tag}>, not <annotation>")
    return root


def _annotation(element: ET.Element, where: str, size: ImageSize, name: str) -> Annotation:
    label = (element.findtext("name") or "").strip()
    if not label:
        raise AnnotationFileError(name, f"{where}/name is missing or empty")
    box = element.find("bndbox")
    if box is None:
        raise AnnotationFileError(name, f"{where}/bndbox is missing")
    left, top, right, bottom = (_number(box, edge, f"{where}/bndbox", name) for edge in EDGES)
    _check_axis(left, right, size.width, f"{where}/bndbox/xmin..xmax", name)
    _check_axis(top, bottom, size.height, f"{where}/bndbox/ymin..ymax", name)
    flags = {flag: True for flag in FLAGS
             if element.find(flag) is not None and _flag(element, flag, f"{where}/{flag}", name)}
    return geometry.box_annotation(label, (left, top, right, bottom), flags)


def _number(parent: ET.Element, tag: str, where: str, name: str) -> float:
    text = (parent.findtext(tag) or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise AnnotationFileError(name, f"{where}/{tag} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise AnnotationFileError(name, f"{where}/{tag} is {text!r}, not a number")
    return int(value) if value.is_integer() else value


def _check_axis(low: float, high: float, extent: int, element: str, name: str) -> None:
    if not 0 <= low <= high <= extent:
        raise AnnotationFileError(name, f"{element}: {low}..{high} is outside the image "
                                  f"(0..{extent}) or inverted")


def _flag(element: ET.Element, tag: str, where: str, name: str) -> bool:
    text = (element.findtext(tag) or "").strip().lower()
    if text not in TRUE_TEXT:
        raise AnnotationFileError(name, f"{where} is {text!r}; expected 0 or 1")
    return TRUE_TEXT[text]


def _document(rel_path: str, size: ImageSize, projections: Sequence[Annotation]) -> str:
    rel = PurePosixPath(rel_path)
    root = ET.Element("annotation")
    _child(root, "folder", rel.parent.name)
    _child(root, "filename", rel.name)
    ET.SubElement(_child(root, "source", None), "database").text = "Unknown"
    element = _child(root, "size", None)
    for tag, value in (("width", size.width), ("height", size.height), ("depth", size.depth)):
        _child(element, tag, str(value))
    _child(root, "segmented", "0")
    for projection in projections:
        _object(root, projection)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _object(root: ET.Element, projection: Annotation) -> None:
    element = _child(root, "object", None)
    _child(element, "name", projection["label"])
    _child(element, "pose", "Unspecified")
    for flag in FLAGS:
        _child(element, flag, "1" if projection["attributes"].get(flag) else "0")
    box = _child(element, "bndbox", None)
    for tag, value in zip(EDGES, projection["geometry"], strict=True):
        _child(box, tag, str(value))


def _child(parent: ET.Element, tag: str, text: str | None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element
