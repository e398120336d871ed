"""Report figures a person can read: titled panels, colour bars, shared scales, a zoom.

One figure per comparison (``comparison_figure``), shared by `run`'s bundle and `compare`:

  row 1  the intensity images (reference, [parent], candidate/culprit) on ONE scale with one
         colour bar, logarithmic when the images span many decades (Bragg peaks over a weak
         background), so a culprit 132x too bright looks 132x too bright;
  row 2  the difference (candidate - reference) on a symmetric scale centred on zero, then a
         zoom on the window with the largest disagreement: reference, candidate and difference
         there, at full resolution;
  below  the metrics as a caption.

Large images are reduced for display first (report/images.py keeps each block's most extreme
value, so a one-pixel spot stays visible); the zoom is cut from the full-resolution images.
The PNG carries a ``Panels`` text chunk (JSON: each panel's name and pixel box) so tests and
tools can find the panels without guessing, and the caption as its ``Description``.

numpy and matplotlib (0.6 s) are imported on use, once there is a figure to draw.
"""

from __future__ import annotations

import io
import json
import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_write
from .images import reduce_for_display

if TYPE_CHECKING:
    import numpy as np

# Panels are about 3.2 inches wide at 100 dpi: more display pixels than that are not seen.
DISPLAY_SIDE = 512
DPI = 100
PANEL_INCHES = 3.2
# Log intensity scale when the brightest pixel is this many times the median positive one.
LOG_WHEN_RANGE = 100.0
# Decades shown below the brightest pixel on a log scale.
LOG_DECADES = 4
INTENSITY_CMAP = "magma"
DIFFERENCE_CMAP = "RdBu_r"


@dataclass(frozen=True)
class Panel:
    """One image to show: ``name`` is its role (reference, parent, culprit, candidate),
    ``label`` the panel title (names the commit or program). Shape (slow, fast). Without an
    image the panel shows ``note`` (why there is none) instead of staying empty."""

    name: str
    label: str
    image: np.ndarray | None
    note: str = ""


@dataclass(frozen=True)
class Zoom:
    """A window of the full-resolution images: rows slow0:slow1, columns fast0:fast1."""

    slow0: int
    slow1: int
    fast0: int
    fast1: int

    def cut(self, image: np.ndarray) -> np.ndarray:
        return image[self.slow0:self.slow1, self.fast0:self.fast1]

    def text(self, origin: tuple[int, int] = (0, 0)) -> str:
        s, f = origin
        return f"slow {s + self.slow0}-{s + self.slow1 - 1}, fast {f + self.fast0}-{f + self.fast1 - 1}"


@dataclass
class FigureInfo:
    """What was drawn, for the markdown that explains the figure."""

    path: Path
    log_scale: bool
    zoom: Zoom | None
    panels: list[dict] = field(default_factory=list)   # {"name", "box": [left, top, right, bottom]}
    size: tuple[int, int] = (0, 0)                     # (width, height) in pixels
    origin: tuple[int, int] = (0, 0)                   # detector (slow, fast) of array pixel (0, 0)


def comparison_figure(path: Path, panels: list[Panel], *, title: str, caption: list[str],
                      difference_of: tuple[str, str] | None = None,
                      origin: tuple[int, int] = (0, 0)) -> FigureInfo:
    """Draw ``panels`` (first = reference) and, when ``difference_of`` = (candidate, reference)
    names two equally shaped panels, their difference and a zoom; write a PNG at ``path``.

    ``origin``: detector (slow, fast) of the images' first pixel, when they are a region cut
    from a larger frame; axes are labelled in detector pixels."""
    import numpy as np

    images = {p.name: np.asarray(p.image) for p in panels if p.image is not None}
    shown_images = {name: reduce_for_display(img, DISPLAY_SIDE, signed=_has_negative(img))
                    for name, img in images.items()}
    diff = shown_diff = zoom = None
    if difference_of and images[difference_of[0]].shape == images[difference_of[1]].shape:
        # float32 images give a float32 difference: exact enough to look at, half the memory.
        wide = np.result_type(images[difference_of[0]], images[difference_of[1]], np.float32)
        diff = np.subtract(images[difference_of[0]], images[difference_of[1]], dtype=wide)
        shown_diff = reduce_for_display(diff, DISPLAY_SIDE)
        zoom = _full_resolution_zoom(shown_diff, diff.shape)
    log_scale, norm = _intensity_norm(list(images.values()), list(shown_images.values()))

    cols = max(len(panels), 4 if diff is not None else 1)
    rows = 2 if diff is not None else 1
    caption_inches = 0.22 * (len(caption) + 1)
    fig = _new_figure(figsize=(PANEL_INCHES * cols + 0.9, PANEL_INCHES * rows + 0.6 + caption_inches), dpi=DPI)
    grid = fig.add_gridspec(rows, cols + 1, width_ratios=[1] * cols + [0.06],
                            left=0.03, right=0.95, top=1 - 0.55 / fig.get_figheight(),
                            bottom=(caption_inches + 0.15) / fig.get_figheight(), wspace=0.25, hspace=0.3)
    fig.suptitle(title, fontsize=11)
    boxes: list[tuple[str, object]] = []
    shown = None
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        if panel.image is None:
            _note(ax, panel.label, panel.note)
        else:
            shown = _show(ax, shown_images[panel.name], panel.label,
                          INTENSITY_CMAP, norm, _extent(images[panel.name].shape, origin))
        boxes.append((panel.name, ax))
    bar = fig.colorbar(shown, cax=fig.add_subplot(grid[0, cols]))
    bar.set_label("photons / pixel" + (" (log)" if log_scale else ""))
    bar.minorticks_off()
    boxes.append(("intensity_colorbar", bar.ax))

    if diff is not None:
        _difference_row(fig, grid, cols, diff, shown_diff, images, difference_of, zoom, norm, boxes, origin)
    fig.text(0.03, 0.02 / fig.get_figheight() + 0.005, "\n".join(caption), fontsize=8.5,
             va="bottom", ha="left", family="monospace")
    info = _save(fig, Path(path), boxes, log_scale, zoom, title, caption)
    info.origin = origin
    return info


def _difference_row(fig, grid, cols, diff, shown_diff, images, names, zoom, norm, boxes, origin) -> None:
    import numpy as np
    from matplotlib.colors import Normalize

    candidate, reference = names
    limit = float(np.nanmax(np.abs(shown_diff))) or 1.0  # the reduction keeps the extremes
    symmetric = Normalize(vmin=-limit, vmax=limit)
    ax = fig.add_subplot(grid[1, 0])
    shown = _show(ax, shown_diff, f"{candidate} - {reference}",
                  DIFFERENCE_CMAP, symmetric, _extent(diff.shape, origin))
    boxes.append(("difference", ax))
    if zoom is not None:
        _outline(ax, zoom, origin)
        for col, (name, image, cmap, scale) in enumerate(
                (("zoom_reference", images[reference], INTENSITY_CMAP, norm),
                 ("zoom_candidate", images[candidate], INTENSITY_CMAP, norm),
                 ("zoom_difference", diff, DIFFERENCE_CMAP, symmetric)), start=1):
            zax = fig.add_subplot(grid[1, col])
            label = {"zoom_reference": reference, "zoom_candidate": candidate,
                     "zoom_difference": "difference"}[name]
            s0, f0 = origin
            _show(zax, zoom.cut(image), f"zoom: {label}", cmap, scale,
                  (f0 + zoom.fast0 - 0.5, f0 + zoom.fast1 - 0.5, s0 + zoom.slow1 - 0.5, s0 + zoom.slow0 - 0.5))
            boxes.append((name, zax))
    bar = fig.colorbar(shown, cax=fig.add_subplot(grid[1, cols]))
    bar.set_label("difference (photons / pixel)")
    boxes.append(("difference_colorbar", bar.ax))


def _extent(shape: tuple[int, int], origin: tuple[int, int]) -> tuple[float, float, float, float]:
    """imshow's (left, right, bottom, top) so that pixel centres sit on detector indices."""
    (slow, fast), (s0, f0) = shape, origin
    return (f0 - 0.5, f0 + fast - 0.5, s0 + slow - 0.5, s0 - 0.5)


def _show(ax, image, label, cmap, norm, extent):
    """imshow in detector coordinates (rows = slow, columns = fast), labelled in full-size pixels."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    shown = ax.imshow(np.asarray(image), cmap=cmap, norm=norm, interpolation="nearest",
                      extent=extent, origin="upper")
    ax.set_title(label, fontsize=9)
    # Few ticks: tick objects are most of matplotlib's drawing time, and 4 are enough to read.
    ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.set_xlabel("fast (pixel)", fontsize=7)
    ax.set_ylabel("slow (pixel)", fontsize=7)
    ax.tick_params(labelsize=6)
    return shown


def _note(ax, label: str, note: str) -> None:
    """A panel without an image: its title and why there is no image, wrapped to fit."""
    ax.set_title(label, fontsize=9)
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(note or "no image", 34)), ha="center", va="center",
            fontsize=8, color="dimgrey", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("lightgrey")


def _outline(ax, zoom: Zoom, origin: tuple[int, int]) -> None:
    from matplotlib.patches import Rectangle

    s0, f0 = origin
    ax.add_patch(Rectangle((f0 + zoom.fast0 - 0.5, s0 + zoom.slow0 - 0.5), zoom.fast1 - zoom.fast0,
                           zoom.slow1 - zoom.slow0, fill=False, edgecolor="lime", linewidth=1.2))


def _intensity_norm(images: list[np.ndarray], shown: list[np.ndarray]):
    """One scale for every intensity panel; log when the images span many decades.

    Extremes come from the display images (their reduction keeps each block's extreme
    pixel); the median from a strided sample of the full images (about 250k pixels)."""
    import numpy as np
    from matplotlib.colors import LogNorm, Normalize

    top = max(float(np.nanmax(s)) if s.size else 1.0 for s in shown)
    low = min(float(np.nanmin(s)) if s.size else 0.0 for s in shown)
    samples = [img[:: max(1, img.shape[0] // 500), :: max(1, img.shape[1] // 500)].ravel() for img in images]
    sample = np.concatenate(samples).astype(np.float64)
    positive = sample[np.isfinite(sample) & (sample > 0)]
    if np.isfinite(top) and top > 0 and positive.size and top / float(np.median(positive)) >= LOG_WHEN_RANGE:
        floor = max(top * 10.0 ** -LOG_DECADES, float(positive.min()))
        return True, LogNorm(vmin=floor, vmax=top, clip=True)
    if not (np.isfinite(top) and np.isfinite(low)) or top <= low:
        low, top = 0.0, 1.0
    return False, Normalize(vmin=min(low, 0.0), vmax=top)


def _has_negative(image: np.ndarray) -> bool:
    import numpy as np

    return bool(np.nanmin(image) < 0) if image.size else False


def _full_resolution_zoom(shown_diff: np.ndarray, shape: tuple[int, int]) -> Zoom | None:
    """The zoom window found on the display-reduced difference (each of its pixels stands for
    a block of the full image), mapped back to full-resolution pixels."""
    window = largest_disagreement(shown_diff)
    if window is None:
        return None
    factor = -(-max(shape) // max(shown_diff.shape)) if max(shown_diff.shape) < max(shape) else 1
    slow, fast = shape
    return Zoom(min(window.slow0 * factor, slow - 1), min(window.slow1 * factor, slow),
                min(window.fast0 * factor, fast - 1), min(window.fast1 * factor, fast))


def largest_disagreement(diff: np.ndarray) -> Zoom | None:
    """The window (about 1/8 of the image per side, at least 16 pixels) with the largest sum of
    |difference|; None when the images agree exactly."""
    import numpy as np

    absd = np.abs(diff)
    if not np.isfinite(absd).all():
        absd = np.nan_to_num(absd, nan=0.0, posinf=0.0)
    if not absd.any():
        return None
    slow, fast = absd.shape
    side = max(16, min(slow, fast) // 8)
    block = max(1, side // 2)
    rows, cols = -(-slow // block), -(-fast // block)
    if (rows * block, cols * block) != absd.shape:
        padded = np.zeros((rows * block, cols * block))
        padded[:slow, :fast] = absd
        absd = padded
    sums = absd.reshape(rows, block, cols, block).sum(axis=(1, 3))
    # Windows of 2x2 blocks, so a spot on a block border is not split between two windows.
    pairs = sums.copy()
    pairs[:-1, :] += sums[1:, :]
    pairs[:, :-1] += pairs[:, 1:].copy()
    r, c = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
    s0 = max(0, min(int(r) * block, slow - min(side, slow)))
    f0 = max(0, min(int(c) * block, fast - min(side, fast)))
    return Zoom(s0, min(slow, s0 + side), f0, min(fast, f0 + side))


def _save(fig, path: Path, boxes, log_scale: bool, zoom: Zoom | None, title: str,
          caption: list[str]) -> FigureInfo:
    # Boxes from the grid layout (fixed before drawing), so the figure is drawn only once.
    width, height = (int(round(v * DPI)) for v in fig.get_size_inches())
    panels = []
    for name, ax in boxes:
        ax.apply_aspect()  # equal-aspect images shrink inside their cell; no drawing needed
        bb = ax.get_position()
        panels.append({"name": name, "box": [int(math.floor(bb.x0 * width)), int(math.floor((1 - bb.y1) * height)),
                                             int(math.ceil(bb.x1 * width)), int(math.ceil((1 - bb.y0) * height))]})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI,
                metadata={"Title": title, "Description": "\n".join(caption), "Software": "bisector",
                          "Panels": json.dumps(panels)})
    atomic_write(path, buf.getvalue())
    return FigureInfo(path=path, log_scale=log_scale, zoom=zoom, panels=panels, size=(width, height))


def _new_figure(**kwargs):
    """A figure on the Agg canvas, without pyplot: no display is needed (CI, ssh), and no
    global figure registry keeps figures alive between reports."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def explain(info: FigureInfo, reference: str, candidate: str, others: tuple[str, ...] = ()) -> list[str]:
    """Markdown lines that say how to read a figure made by ``comparison_figure``."""
    scale = ("a logarithmic colour scale (the images span many decades)" if info.log_scale
             else "a linear colour scale")
    lines = [f"![comparison]({info.path.name})", "",
             f"- Top row: {', '.join((reference, *others))} and {candidate} on one shared intensity scale, {scale}: "
             "equal brightness means equal photons, so a wrong scale factor shows as a brighter "
             "or darker panel, not a different-looking one.",
             ]
    if any(p["name"] == "difference" for p in info.panels):
        lines.append(f"- Bottom left: {candidate} minus {reference} on a scale centred on zero "
                     "(red: too bright, blue: too dark, white: equal). A shift shows as red/blue "
                     "pairs beside each spot; a scale error as spots of one colour.")
    if info.zoom is not None:
        lines.append(f"- Bottom right: zoom on the window with the largest disagreement "
                     f"({info.zoom.text(info.origin)}, green box), at full resolution.")
    return lines
