"""The loss curve as a PNG, for model cards: ``loss_png(run.metrics(), "loss.png")``.

The studio's live plots are plotly figures; turning one into a PNG needs kaleido and a headless
Chrome (hundreds of MB). A model card needs one static line chart, so it is drawn here with
Pillow, which Gradio already installs: train loss as a line, eval loss as a line with dots.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 800, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 44, 52
SERIES = [("loss", "train loss", (37, 99, 235)), ("eval_loss", "eval loss", (234, 88, 12))]
# GRPO's loss says little (about 0 by construction); its card draws what it optimises.
REWARD_SERIES = [("reward", "mean reward", (37, 99, 235)), ("rewards/exact_answer/mean", "exact answer", (22, 163, 74))]
GRID, AXIS, TEXT = (229, 231, 235), (107, 114, 128), (17, 24, 39)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + (abs(low) or 1.0) * 0.1
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def loss_png(metrics: list[dict], path: str | Path, title: str = "Training loss", lines=None) -> Path | None:
    """Draw train (and eval) loss (or ``lines``: (key, name, colour)) against the step into ``path``;
    None when there is nothing to draw."""
    series = []
    for key, name, color in lines or SERIES:
        points = [(m["step"], m[key]) for m in metrics if isinstance(m.get(key), int | float) and math.isfinite(m[key])]
        if points:
            series.append((name, color, points, key == "eval_loss"))
    if not series:
        return None
    xs = [x for _, _, pts, _ in series for x, _ in pts]
    ys = [y for _, _, pts, _ in series for _, y in pts]
    x_ticks = nice_ticks(min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1)
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def to_px(x: float, y: float) -> tuple[float, float]:
        px = LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)
        return px, py

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=12)
    for y in y_ticks:
        _, py = to_px(x0, y)
        draw.line([(LEFT, py), (WIDTH - RIGHT, py)], fill=GRID)
        draw.text((LEFT - 6, py), _label(y), fill=AXIS, font=small, anchor="rm")
    for x in x_ticks:
        px, _ = to_px(x, y0)
        draw.line([(px, HEIGHT - BOTTOM), (px, HEIGHT - BOTTOM + 4)], fill=AXIS)
        draw.text((px, HEIGHT - BOTTOM + 8), _label(x), fill=AXIS, font=small, anchor="mt")
    draw.line([(LEFT, TOP), (LEFT, HEIGHT - BOTTOM), (WIDTH - RIGHT, HEIGHT - BOTTOM)], fill=AXIS)
    draw.text((WIDTH / 2, HEIGHT - 8), "step", fill=TEXT, font=small, anchor="ms")
    draw.text((LEFT, 14), title, fill=TEXT, font=font, anchor="lt")
    legend_x = WIDTH - RIGHT
    for name, color, points, dotted in reversed(series):
        pixels = [to_px(x, y) for x, y in points]
        if len(pixels) > 1:
            draw.line(pixels, fill=color, width=2, joint="curve")
        if dotted or len(pixels) == 1:
            for px, py in pixels:
                draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        width = draw.textlength(name, font=small)
        draw.text((legend_x - width, 18), name, fill=TEXT, font=small)
        draw.line([(legend_x - width - 26, 25), (legend_x - width - 6, 25)], fill=color, width=3)
        legend_x -= width + 40
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
    return path
