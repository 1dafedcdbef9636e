"""Synthesise the attention chime put in front of every emergency notice (original, no
third-party sound).

    python audio/make_chime.py             # writes audio/chime.wav

About 2.6 s: an urgent two-tone call (E6–A5) struck twice, then a rising A-major triad that
rings out, so listeners hear at once that this is not the daily programme. The bell, envelope
and reverb are those of the jingles (``make_jingle.py``); deterministic, 44.1 kHz mono 16-bit,
peak-normalised to -3 dBFS (``broadcast.mixing.master`` re-levels it to the voice).
"""

from __future__ import annotations

import numpy as np
from make_jingle import HERE, RATE, render, write_wav


def chime() -> np.ndarray:
    """Two-tone call twice, then A5–C#6–E6 rising and an A6 answer."""
    events = [
        (0.03, "E6", 0.35, 0.9),
        (0.30, "A5", 0.35, 0.8),
        (0.62, "E6", 0.35, 0.9),
        (0.89, "A5", 0.35, 0.8),
        (1.25, "A5", 0.9, 0.7),
        (1.40, "C#6", 0.9, 0.7),
        (1.55, "E6", 0.9, 0.75),
        (1.70, "A6", 0.8, 0.35),
    ]
    return render(events, [], 2.6)


def main() -> None:
    path = HERE / "chime.wav"
    sound = chime()
    write_wav(path, sound)
    print(f"{path}: {len(sound) / RATE:.2f} s")


if __name__ == "__main__":
    main()
