"""The day's chart as a picture for the chat (where no desk is served): top-ups per local
hour of the day as bars, the average of the days before as a line, PNG bytes.

matplotlib (with numpy, ~1 CPU-second and ~40 MB) loads at the first chart, not with the
bot: nothing here imports it at module level. It draws with Agg (no GUI) through its object
API, never pyplot, one chart at a time; its cache goes to a private folder (0700) made for
this process unless MPLCONFIGDIR names one, never into the home folder. The words come in
the reader's language; the DejaVu font shipped for the PDFs draws every Cyrillic and Kazakh
letter."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FONTS = Path(__file__).resolve().parent / "fonts"
#: Inches at :data:`DPI`: 1200 × 720 pixels, which a phone shows the width of the screen.
SIZE = (8.0, 4.8)
DPI = 150
BARS = "#2b6cb0"
LINE = "#dd6b20"

_lock = threading.Lock()
_configured = False


@dataclass(frozen=True, slots=True)
class ChartWords:
    """What the chart says, in the reader's language."""

    title: str
    #: The bars' name in the legend (the day shown).
    day: str
    #: The line's name in the legend (the average of the days before).
    average: str
    #: Under the hours, with the time zone they are in.
    hours: str
    #: Beside the counts.
    count: str


def _private_config() -> None:
    """matplotlib's config and font cache in a folder of this process's own (0700, removed
    at exit), unless the operator named one: read at its import, so set before it."""
    global _configured
    if _configured or os.environ.get("MPLCONFIGDIR"):
        return
    _configured = True
    folder = tempfile.mkdtemp(prefix="bot-matplotlib-")  # 0700, as the journal's folders
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = folder


def render_png(hourly: Sequence[int], average: Sequence[float], words: ChartWords) -> bytes:
    """A PNG (about 30–60 KB) of 24 hourly counts against 24 averages. CPU-bound: callers
    run it off the event loop (``asyncio.to_thread``)."""
    if len(hourly) != 24 or len(average) != 24:
        raise ValueError("a day has 24 hours")
    with _lock:  # matplotlib's font cache and text layout are not made for two threads
        _private_config()
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties
        from matplotlib.ticker import MaxNLocator

        regular = FontProperties(fname=FONTS / "DejaVuSans.ttf", size=13)
        small = FontProperties(fname=FONTS / "DejaVuSans.ttf", size=11)
        bold = FontProperties(fname=FONTS / "DejaVuSans-Bold.ttf", size=16)

        figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        hours = list(range(24))
        bars = axes.bar(hours, list(hourly), width=0.8, color=BARS, label=words.day, zorder=2)
        (line,) = axes.plot(
            hours,
            list(average),
            color=LINE,
            linewidth=2.5,
            marker="o",
            markersize=4,
            label=words.average,
            zorder=3,
        )
        for bar, count in zip(bars, hourly, strict=True):
            if count:
                axes.annotate(
                    str(count),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontproperties=small,
                    # Over the average's line where they meet: the count stays readable.
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
                    zorder=4,
                )
        top = max([1.0, *map(float, hourly), *map(float, average)])
        axes.set_ylim(0, top * 1.25)  # room for the counts and the legend
        axes.set_xlim(-0.6, 23.6)
        axes.set_xticks(hours[::3], [f"{hour:02d}" for hour in hours[::3]])
        axes.set_xticks(hours, minor=True)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        for label in (*axes.get_xticklabels(), *axes.get_yticklabels()):
            label.set_fontproperties(regular)
        axes.grid(axis="y", color="#dddddd", zorder=0)
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_title(words.title, fontproperties=bold, loc="left")
        axes.set_xlabel(words.hours, fontproperties=regular)
        axes.set_ylabel(words.count, fontproperties=regular)
        axes.legend(handles=[bars, line], prop=small, loc="upper left", frameon=False)
        buffer = io.BytesIO()
        figure.savefig(
            buffer,
            format="png",
            dpi=DPI,
            metadata={"Software": None},
            pil_kwargs={"optimize": True},
        )
        return buffer.getvalue()
