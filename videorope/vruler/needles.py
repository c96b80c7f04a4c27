"""V-RULER needles: drawn needle images, their questions, and a JSON format for them.

A needle is one image inserted as a frame into a long haystack video, plus the question a
model is asked about it. This module draws needles (a coloured object with a number or
letter on it, or k copies of an object for counting), holds the needle spec and the
building blocks of the seeded generators (each V-RULER task module owns its generator:
``retrieval_needle`` and ``look_alikes`` in :mod:`videorope.vruler.tasks.niah`, the group
generators in ``tasks.counting``, ``tasks.ordering`` and ``tasks.multi_value``), and reads
and writes specs as JSON so that users can supply their own images and questions in the
same format.

Conventions:

- A needle image shows either one large object with a label (``count=None``) or, for
  counting, ``count`` small unlabelled copies of it scattered on a grid (``count`` from 0
  to :data:`MAX_COUNT`, 1 included).
- Images are PIL RGB, square, ``size x size`` pixels (default 224), the object drawn with
  ImageDraw polygons and ellipses on a plain :data:`BACKGROUND`. The fill is exactly the
  palette colour (no anti-aliasing on shapes), the outline a darker shade of it, the label
  white with a black stroke. Rendering is a pure function of its arguments: the same
  arguments give byte-identical PNG files (for a given Pillow / FreeType build).
- A spec's ``image`` is a POSIX path relative to the suite folder (the folder holding the
  needle JSON), e.g. ``"needles/red_balloon_47.png"``.
- Generators are pure functions of an ``int`` seed (``random.Random(seed)``); they never
  touch the disk. :func:`write_needle_images` renders and writes the files.
- Multi-needle generators (counting, ordering, multi-key multi-value) return a list of
  specs that share one question, answer and options (the group's question); the list order
  is the order in which the task inserts them. Per-image facts live in each spec's
  attributes (``count``, ``label``, ``object``, ``colour``).

JSON format (:func:`save_needles` / :func:`load_needles`; the comments are for this page only)::

    {
      "format": "videorope.vruler.needles/v1",
      "needles": [
        {
          "image": "needles/red_balloon_47.png",           # required, relative path
          "question": "What number is written on the red balloon?",  # required
          "answer": "47",                                   # required, one of options
          "options": ["47", "12", "83", "30"],              # required, >= 2 distinct
          "kind": "retrieval",  # retrieval | distractor | counting | ordering | multi_value | custom
          "asked": "label",     # label | colour | object | count | order | labels | "" (free-form)
          "object": "balloon",  # null for a user image that is not drawn by this module
          "colour": "red",      # null likewise
          "label": "47",        # text on the object; "" for none
          "count": null,        # counting needles: copies of the object in the image (int)
          "layout_seed": 0      # counting needles: placement seed of the copies
        }
      ]
    }

Only the four required keys must be given; the others default to a user-supplied
(``"custom"``) needle. Unknown keys are errors, so a typo never goes unnoticed.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from videorope.io import atomic_path, read_text, write_json

__all__ = [
    "BACKGROUND",
    "COLOURS",
    "FORMAT",
    "IMAGE_DIR",
    "KINDS",
    "LABEL_RANGE",
    "MAX_COUNT",
    "OBJECTS",
    "NeedleSpec",
    "check_label",
    "check_n_options",
    "draw_needle",
    "drawn_spec",
    "is_label",
    "load_needles",
    "new_label",
    "png_bytes",
    "save_needles",
    "shuffled_options",
    "write_needle_images",
]

FORMAT = "videorope.vruler.needles/v1"
"""Value of the ``"format"`` key of a needle JSON file."""

IMAGE_DIR = "needles"
"""Folder, relative to the suite folder, that generated needle images go to."""

BACKGROUND = (242, 240, 235)
"""Plain off-white background of every drawn needle."""

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "orange": (245, 130, 15),
    "yellow": (240, 205, 20),
    "green": (35, 155, 60),
    "blue": (30, 90, 215),
    "purple": (135, 55, 190),
    "pink": (245, 110, 185),
}
"""Named palette of clearly distinct fill colours (exact RGB of the object's fill)."""

KINDS = ("retrieval", "distractor", "counting", "ordering", "multi_value", "custom")
"""Values of :attr:`NeedleSpec.kind`."""

MAX_COUNT = 16
"""Most copies of an object one counting image holds (a 4 x 4 placement grid)."""

LABEL_RANGE = (10, 99)
"""Generated labels are two-digit numbers in this closed range (same glyph count, same size)."""

_REQUIRED_KEYS = ("image", "question", "answer", "options")


# --------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------

Point = tuple[float, float]


def _regular(n: int, radius: float, phase: float = -math.pi / 2) -> list[Point]:
    return [
        (radius * math.cos(phase + 2 * math.pi * i / n), radius * math.sin(phase + 2 * math.pi * i / n))
        for i in range(n)
    ]


def _star() -> list[Point]:
    outer, inner = _regular(5, 1.0), _regular(5, 0.5, -math.pi / 2 + math.pi / 5)
    return [p for pair in zip(outer, inner, strict=True) for p in pair]


def _heart() -> list[Point]:
    pts = []
    for i in range(120):
        t = 2 * math.pi * i / 120
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x, y))
    (x0, x1), (y0, y1) = [(min(v), max(v)) for v in zip(*pts, strict=True)]
    s, cx, cy = 2 / max(x1 - x0, y1 - y0), (x0 + x1) / 2, (y0 + y1) / 2
    return [((x - cx) * s, (y - cy) * s) for x, y in pts]


# Each object: outline in unit coordinates ([-1, 1] box, y down) or an ellipse marker, and
# the box its label must fit in: (half width, half height, centre y), in the same units.
_POLYGONS: dict[str, list[Point]] = {
    "star": _star(),
    "triangle": [(p[0], p[1] + 0.25) for p in _regular(3, 1.0)],
    "heart": _heart(),
    "diamond": [(0, -1), (0.8, 0), (0, 1), (-0.8, 0)],
    "hexagon": _regular(6, 1.0, 0.0),
}
_LABEL_BOX: dict[str, tuple[float, float, float]] = {
    "balloon": (0.48, 0.42, -0.2),
    "star": (0.46, 0.33, 0.05),
    "square": (0.7, 0.5, 0.0),
    "triangle": (0.4, 0.3, 0.3),
    "heart": (0.55, 0.38, -0.1),
    "circle": (0.66, 0.46, 0.0),
    "diamond": (0.46, 0.34, 0.0),
    "hexagon": (0.66, 0.46, 0.0),
}
OBJECTS: tuple[str, ...] = tuple(_LABEL_BOX)
"""Object kinds :func:`draw_needle` can draw."""


def _shade(rgb: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return (int(rgb[0] * f), int(rgb[1] * f), int(rgb[2] * f))


def _draw_object(
    draw: ImageDraw.ImageDraw, obj: str, cx: float, cy: float, r: float, rgb: tuple[int, int, int]
) -> None:
    """Draw ``obj`` filling the box ``[cx - r, cx + r] x [cy - r, cy + r]`` (pixels)."""
    outline, width = _shade(rgb, 0.55), max(2, round(r / 30))

    def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [cx + x0 * r, cy + y0 * r, cx + x1 * r, cy + y1 * r]

    if obj == "circle":
        draw.ellipse(box(-1, -1, 1, 1), fill=rgb, outline=outline, width=width)
    elif obj == "square":
        draw.rounded_rectangle(box(-0.9, -0.9, 0.9, 0.9), radius=0.12 * r, fill=rgb, outline=outline, width=width)
    elif obj == "balloon":
        # String (dark grey), body, then the knot over the body's outline: the filled part
        # is one connected blob that stays inside the box.
        pts = [(cx + 0.08 * r * math.sin(6 * k / 10), cy + (0.62 + 0.38 * k / 10) * r) for k in range(11)]
        draw.line(pts, fill=(90, 90, 90), width=max(1, width // 2 + 1))
        draw.ellipse(box(-0.7, -1, 0.7, 0.6), fill=rgb, outline=outline, width=width)
        draw.polygon([(cx, cy + 0.4 * r), (cx - 0.1 * r, cy + 0.68 * r), (cx + 0.1 * r, cy + 0.68 * r)], fill=rgb)
    else:
        pts = [(cx + x * r, cy + y * r) for x, y in _POLYGONS[obj]]
        draw.polygon(pts, fill=rgb, outline=outline, width=width)


@lru_cache(maxsize=64)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=px)


def _text_mask(text: str, max_w: float, max_h: float) -> Image.Image:
    """Anti-aliased mask ("L") of ``text`` scaled to fit ``max_w x max_h`` pixels.

    Uses Pillow's built-in scalable font (needs FreeType, Pillow >= 10.1). Without FreeType
    ``load_default`` returns an 11 px bitmap font; its glyphs are then scaled up (nearest
    neighbour), blocky but as large and legible.
    """

    def render(font: Any) -> Image.Image:
        x0, y0, x1, y1 = font.getbbox(text)
        mask = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
        ImageDraw.Draw(mask).text((-x0, -y0), text, font=font, fill=255)
        return mask

    ref = _font(100)
    probe = render(ref)
    scale = min(max_w / probe.width, max_h / probe.height)
    if isinstance(ref, ImageFont.FreeTypeFont):
        return render(_font(max(6, int(100 * scale))))
    w, h = max(1, round(probe.width * scale)), max(1, round(probe.height * scale))
    return probe.resize((w, h), Image.Resampling.NEAREST)


def check_label(label: str) -> None:
    """ValueError unless ``label`` is "" or 1-3 ASCII letters or digits."""
    if not isinstance(label, str) or len(label) > 3 or not ((label.isascii() and label.isalnum()) or label == ""):
        raise ValueError(f"label must be '' or 1-3 ASCII letters/digits (e.g. '47', 'B'), got {label!r}")


def draw_needle(
    obj: str,
    colour: str,
    label: str = "",
    *,
    count: int | None = None,
    size: int = 224,
    layout_seed: int = 0,
) -> Image.Image:
    """Draw a needle image: RGB, ``size x size``, objects of one kind and colour on :data:`BACKGROUND`.

    ``count=None``: one large object centred in the frame (its box is 84% of the side) with
    ``label`` (1-3 letters/digits, "" for none) written across it in white with a black
    stroke, sized to fill the object's label box (for "47" at 224 px about 50 px tall).
    ``count=k`` (0 to :data:`MAX_COUNT`): k small copies in distinct cells of a
    ``max(3, ceil(sqrt(k)))``-square grid, jittered inside their cell by ``layout_seed``;
    copies never touch, so each is one connected blob of the fill colour. No label then.

    Pure function of its arguments: same arguments, same pixels.
    """
    if obj not in OBJECTS:
        raise ValueError(f"unknown object {obj!r}; choose one of: {', '.join(OBJECTS)}")
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; choose one of: {', '.join(COLOURS)}")
    check_label(label)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT):
        raise ValueError(f"count must be None or an int in [0, {MAX_COUNT}], got {count!r}")
    if count is not None and label:
        raise ValueError(
            f"a label is drawn only on a single large object (count=None); got count={count}, label={label!r}"
        )
    if not isinstance(size, int) or size < 32:
        raise ValueError(f"size must be an int >= 32 pixels, got {size!r}")
    rgb = COLOURS[colour]
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if count is None:
        r = 0.42 * size
        cx = cy = size / 2
        _draw_object(draw, obj, cx, cy, r, rgb)
        if label:
            hw, hh, dy = _LABEL_BOX[obj]
            mask = _text_mask(label, 2 * hw * r, 2 * hh * r)
            stroke = max(2, round(mask.height / 12))
            x, y = round(cx - mask.width / 2), round(cy + dy * r - mask.height / 2)
            pad = Image.new("L", (mask.width + 2 * stroke, mask.height + 2 * stroke), 0)
            pad.paste(mask, (stroke, stroke))
            halo = pad.filter(ImageFilter.MaxFilter(2 * stroke + 1))
            image.paste((0, 0, 0), (x - stroke, y - stroke), halo)
            image.paste((255, 255, 255), (x, y), mask)
        return image
    n = max(3, math.ceil(math.sqrt(count)))
    cell = size / n
    rng = random.Random(layout_seed)
    for index in sorted(rng.sample(range(n * n), count)):
        row, col = divmod(index, n)
        jx, jy = rng.uniform(-0.1, 0.1) * cell, rng.uniform(-0.1, 0.1) * cell
        _draw_object(draw, obj, (col + 0.5) * cell + jx, (row + 0.5) * cell + jy, 0.34 * cell, rgb)
    return image


def png_bytes(image: Image.Image) -> bytes:
    """PNG encoding of ``image`` (no metadata, so identical pixels give identical bytes)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# Needle specs and JSON
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedleSpec:
    """One needle: its image, the question asked about it, and the attributes drawn in it.

    ``image`` is a POSIX path relative to the suite folder. ``options`` are the multiple-
    choice options in presentation order; ``answer`` is one of them. For a look-alike
    distractor, ``answer`` is what that image alone would answer (the lure), and question
    and options are those of the needle it imitates. In a multi-needle group every spec
    carries the group's question, answer and options.

    ``kind`` is one of :data:`KINDS`; ``asked`` the attribute the question asks about
    ("label", "colour", "object", "count", "order", "labels", or "" for a free-form question).
    ``object`` / ``colour`` are ``None`` for a user image this module cannot draw; ``label``
    is the text on the object ("" for none). ``count`` is ``None`` except for counting
    needles, where it is the number of copies in this image and ``layout_seed`` places them.
    """

    image: str
    question: str
    answer: str
    options: tuple[str, ...]
    kind: str = "custom"
    asked: str = ""
    object: str | None = None
    colour: str | None = None
    label: str = ""
    count: int | None = None
    layout_seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.options, list):
            object.__setattr__(self, "options", tuple(self.options))
        for name in ("image", "question", "answer", "kind", "asked", "label"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name!r} must be a string, got {getattr(self, name)!r}")
        if not self.image or not self.question:
            raise ValueError("'image' and 'question' must be non-empty")
        path = PurePosixPath(self.image)
        if path.is_absolute() or ".." in path.parts or "\\" in self.image:
            raise ValueError(
                f"'image' must be a POSIX path relative to the suite folder, inside it (e.g. "
                f"'needles/x.png'), got {self.image!r}"
            )
        if not isinstance(self.options, tuple) or not all(isinstance(o, str) for o in self.options):
            raise ValueError(f"'options' must be a list of strings, got {self.options!r}")
        if len(self.options) < 2 or len(set(self.options)) != len(self.options):
            raise ValueError(f"'options' must hold at least 2 distinct strings, got {list(self.options)!r}")
        if self.answer not in self.options:
            raise ValueError(f"answer {self.answer!r} is not among options {list(self.options)!r}; add it to 'options'")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; choose one of: {', '.join(KINDS)}")
        for name in ("object", "colour"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"{name!r} must be a string or null, got {getattr(self, name)!r}")
        for name in ("count", "layout_seed"):
            value = getattr(self, name)
            if (value is not None or name == "layout_seed") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{name!r} must be a non-negative int{' or null' * (name == 'count')}, got {value!r}")
        if self.count is not None and self.label:
            raise ValueError(f"a counting needle (count={self.count}) has no label, got label={self.label!r}")

    @property
    def drawable(self) -> bool:
        """Whether :meth:`render` can draw this needle (known object and colour)."""
        return self.object in OBJECTS and self.colour in COLOURS

    def render(self, size: int = 224) -> Image.Image:
        """The needle image, drawn by :func:`draw_needle` from this spec's attributes."""
        if not self.drawable:
            raise ValueError(
                f"needle {self.image!r} cannot be drawn: object {self.object!r} / colour {self.colour!r} "
                f"are not among OBJECTS / COLOURS; supply the image file yourself"
            )
        return draw_needle(
            self.object, self.colour, self.label, count=self.count, size=size, layout_seed=self.layout_seed
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``options`` as a list)."""
        d = asdict(self)
        d["options"] = list(self.options)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NeedleSpec:
        """Inverse of :meth:`to_dict`; missing required keys, unknown keys and bad values raise ValueError."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a needle must be a JSON object, got {type(d).__name__}")
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
        missing = [k for k in _REQUIRED_KEYS if k not in d]
        if missing:
            raise ValueError(f"missing key(s) {', '.join(missing)}; every needle needs {', '.join(_REQUIRED_KEYS)}")
        if not isinstance(d["options"], (list, tuple)):
            raise ValueError(f"'options' must be a list of strings, got {d['options']!r}")
        return cls(**{**d, "options": tuple(d["options"])})


def save_needles(path: str | Path, needles: Iterable[NeedleSpec]) -> Path:
    """Write ``needles`` to ``path`` as needle JSON (format in the module docstring), atomically."""
    return write_json(path, {"format": FORMAT, "needles": [n.to_dict() for n in needles]})


def load_needles(path: str | Path, *, root: str | Path | None = None, check_images: bool = True) -> list[NeedleSpec]:
    """Read needle JSON written by :func:`save_needles` or by hand.

    Image paths resolve against ``root`` (default: the JSON file's folder). With
    ``check_images`` every image file must exist. Any problem raises ValueError naming the
    needle's index and how to fix it.
    """
    path = Path(path)
    root = path.parent if root is None else Path(root)
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("needles"), list):
        raise ValueError(f"{path}: expected an object {{'format': {FORMAT!r}, 'needles': [...]}}")
    if data.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{path}: format {data['format']!r} is not supported; expected {FORMAT!r}")
    needles = []
    for i, d in enumerate(data["needles"]):
        try:
            spec = NeedleSpec.from_dict(d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: needle {i}: {e}") from None
        if check_images and not (root / spec.image).is_file():
            raise ValueError(
                f"{path}: needle {i}: image file {root / spec.image} does not exist; fix 'image' (relative to "
                f"{root}) or create it (write_needle_images for drawable needles)"
            )
        needles.append(spec)
    return needles


def write_needle_images(folder: str | Path, needles: Iterable[NeedleSpec], *, size: int = 224) -> list[Path]:
    """Draw every drawable needle to ``folder / spec.image`` as PNG, atomically; return the paths written.

    A file that already holds exactly the PNG to be written is skipped (so re-runs write
    nothing). A needle that cannot be drawn (user image) must already exist. Two needles
    naming one file but drawing different content raise ValueError.
    """
    folder = Path(folder)
    seen: dict[str, tuple] = {}
    written = []
    for i, spec in enumerate(needles):
        target = folder / spec.image
        if not spec.drawable:
            if not target.is_file():
                raise ValueError(
                    f"needle {i}: image {target} does not exist and cannot be drawn "
                    f"(object {spec.object!r}, colour {spec.colour!r}); put the file there, or use an object "
                    f"from OBJECTS and a colour from COLOURS"
                )
            continue
        key = (spec.object, spec.colour, spec.label, spec.count, spec.layout_seed if spec.count is not None else 0)
        if spec.image in seen:
            if seen[spec.image] != key:
                raise ValueError(f"needle {i}: image {spec.image!r} is also used by a needle that draws other content")
            continue
        seen[spec.image] = key
        data = png_bytes(spec.render(size))
        if target.is_file() and target.read_bytes() == data:
            continue
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        written.append(target)
    return written


# --------------------------------------------------------------------------------------
# Building blocks of the generators (each task module owns its own generator)
# --------------------------------------------------------------------------------------


def _image_name(obj: str, colour: str, label: str = "", count: int | None = None, layout_seed: int = 0) -> str:
    stem = f"{colour}_{obj}"
    if count is not None:
        stem += f"_x{count}_s{layout_seed}"
    elif label:
        stem += f"_{label}"
    return f"{IMAGE_DIR}/{stem}.png"


def drawn_spec(**kw: Any) -> NeedleSpec:
    """A :class:`NeedleSpec` of a drawable needle, its image named after what it shows."""
    kw["image"] = _image_name(
        kw["object"], kw["colour"], kw.get("label", ""), kw.get("count"), kw.get("layout_seed", 0)
    )
    return NeedleSpec(**kw)


def new_label(rng: random.Random, avoid: Iterable[str] = ()) -> str:
    """A two-digit label from :data:`LABEL_RANGE`, none of ``avoid``."""
    avoid = set(avoid)
    choices = [str(v) for v in range(LABEL_RANGE[0], LABEL_RANGE[1] + 1) if str(v) not in avoid]
    return rng.choice(choices)


def shuffled_options(rng: random.Random, answer: str, alternatives: Sequence[str], n_options: int) -> tuple[str, ...]:
    """``answer`` plus ``n_options - 1`` of ``alternatives`` (distinct, != answer), shuffled."""
    pool = [a for a in dict.fromkeys(alternatives) if a != answer]
    options = [answer, *rng.sample(pool, min(n_options - 1, len(pool)))]
    rng.shuffle(options)
    return tuple(options)


def check_n_options(n_options: int) -> None:
    """ValueError unless ``n_options`` is an int >= 2."""
    if isinstance(n_options, bool) or not isinstance(n_options, int) or n_options < 2:
        raise ValueError(f"n_options must be an int >= 2, got {n_options!r}")


def is_label(value: str) -> bool:
    """Whether ``value`` could be drawn as a label (1-3 ASCII letters or digits)."""
    try:
        check_label(value)
    except ValueError:
        return False
    return value != ""
