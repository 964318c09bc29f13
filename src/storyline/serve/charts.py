"""Time axes laid out on the server, drawn as inline SVG by the templates (no chart library, no
inline style: positions are SVG attributes, so the strict Content-Security-Policy holds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WIDTH = 1000
MARGIN = 40
LANE = 20
CHAR_PX = 6.4
MAX_LABEL = 42


def parse_when(value: str | None) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) == 4 and value.isdigit():
        value += "-07-01"  # a year: drawn mid-year
    elif len(value) == 7 and value[:4].isdigit() and value[4] == "-" and value[5:].isdigit():
        value += "-15"  # a month: drawn mid-month
    try:
        d = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            d = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
        except ValueError:
            return None
    return d.replace(tzinfo=None) if d.tzinfo else d


def short(text: str | None, n: int = MAX_LABEL) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


@dataclass
class Mark:
    x: float
    y: float
    r: float
    label: str
    title: str
    href: str | None = None
    kind: str = "point"
    label_x: float = 0.0
    label_y: float = 0.0
    anchor: str = "start"


@dataclass
class Axis:
    width: int = WIDTH
    height: int = 80
    axis_y: float = 60
    ticks: list[tuple[float, str]] = field(default_factory=list)
    points: list[Mark] = field(default_factory=list)  # above the axis, labelled
    ticks_below: list[Mark] = field(default_factory=list)  # small marks under the axis (publications)
    below_labels: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.points and not self.ticks_below


def _ticks(lo: dt.datetime, hi: dt.datetime, x_of) -> list[tuple[float, str]]:
    """Ticks on calendar boundaries (hours, days, weeks, months or years), at most ~8."""
    span = (hi - lo).total_seconds()
    day = 86400
    out: list[tuple[float, str]] = []
    if span <= 2 * day:
        step = next((h for h in (1, 2, 3, 6, 12) if span / (h * 3600) <= 8), 24)
        t = lo.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        while t <= hi:
            if t.hour % step == 0:
                out.append((x_of(t), t.strftime("%d %b %H:%M").lstrip("0")))
            t += dt.timedelta(hours=1)
        return out
    if span <= 120 * day:
        step = next((d for d in (1, 2, 7, 14) if span / (d * day) <= 8), 28)
        t = dt.datetime.combine(lo.date(), dt.time()) + dt.timedelta(days=1)
        if step >= 7:  # weeks start on Monday
            t += dt.timedelta(days=(7 - t.weekday()) % 7)
        while t <= hi:
            out.append((x_of(t), t.strftime("%d %b %Y").lstrip("0")))
            t += dt.timedelta(days=step)
        return out
    months = span / (30.4 * day)
    step = next((m for m in (1, 2, 3, 6, 12, 24, 60, 120, 240, 600) if months / m <= 8), 1200)
    y, m = lo.year, lo.month + 1
    if m > 12:
        y, m = y + 1, 1
    while True:
        t = dt.datetime(y, m, 1)
        if t > hi:
            break
        if ((y * 12 + m - 1) % step) == 0:
            out.append((x_of(t), t.strftime("%b %Y") if step < 12 else t.strftime("%Y")))
        m += 1
        if m > 12:
            y, m = y + 1, 1
    return out


def time_axis(points: list[dict], below: list[dict] | None = None, width: int = WIDTH) -> Axis:
    """As :func:`_time_axis`; a chart that cannot be drawn is an empty one, never an error page."""
    try:
        return _time_axis(points, below, width)
    except (ValueError, OverflowError, TypeError, ZeroDivisionError):
        return Axis(width=width)


def _time_axis(points: list[dict], below: list[dict] | None = None, width: int = WIDTH) -> Axis:
    """``points``: {when, label, title, href, size}; ``below``: {when, label, title} (small ticks).
    Labels go into lanes above the axis so that none overlaps another."""
    below = below or []
    dated = [(parse_when(p.get("when")), p) for p in points]
    dated = [(w, p) for w, p in dated if w and 1800 <= w.year <= 2200]  # outside: a misread date
    under = [(parse_when(b.get("when")), b) for b in below]
    under = [(w, b) for w, b in under if w and 1800 <= w.year <= 2200]
    axis = Axis(width=width)
    whens = [w for w, _ in dated] + [w for w, _ in under]
    if not whens:
        return axis
    lo, hi = min(whens), max(whens)
    if hi - lo < dt.timedelta(hours=2):
        lo, hi = lo - dt.timedelta(hours=12), hi + dt.timedelta(hours=12)
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad
    usable = width - 2 * MARGIN

    def x_of(t: dt.datetime) -> float:
        return round(MARGIN + usable * (t - lo).total_seconds() / (hi - lo).total_seconds(), 1)

    lanes_end: list[float] = []
    placed = []
    for w, p in sorted(dated, key=lambda wp: wp[0]):
        x = x_of(w)
        label = short(p.get("label"))
        label_w = len(label) * CHAR_PX + 12
        anchor = "start"
        lx = x + 8
        if lx + label_w > width - 4:
            anchor, lx = "end", x - 8
            start_px, end_px = lx - label_w, x + 8
        else:
            start_px, end_px = x - 8, lx + label_w
        lane = next((i for i, e in enumerate(lanes_end) if e < start_px), None)
        if lane is None:
            lane = len(lanes_end)
            lanes_end.append(end_px)
        else:
            lanes_end[lane] = end_px
        placed.append((lane, Mark(x=x, y=0, r=min(4 + 1.5 * (p.get("size") or 1) ** 0.5, 11), label=label,
                                  title=p.get("title") or p.get("label") or "", href=p.get("href"),
                                  label_x=lx, anchor=anchor)))
    lanes = max(len(lanes_end), 1)
    top = 14
    axis.axis_y = top + lanes * LANE + 8
    for lane, m in placed:
        m.y = axis.axis_y
        m.label_y = axis.axis_y - 14 - lane * LANE
        axis.points.append(m)
    for w, b in under:
        axis.ticks_below.append(Mark(x=x_of(w), y=axis.axis_y + 10, r=3, label=short(b.get("label"), 24),
                                     title=b.get("title") or b.get("label") or "", href=b.get("href"),
                                     kind="pub"))
    axis.ticks = _ticks(lo, hi, x_of)
    axis.height = int(axis.axis_y + (44 if under else 30))
    return axis
