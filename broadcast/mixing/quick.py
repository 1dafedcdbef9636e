"""A one-pass mix for emergency notices: chime, gap, voice, in a single ffmpeg run.

:func:`broadcast.mixing.master` (compose, meter, limit, encode, re-check) takes seconds; an
emergency notice cannot wait for it. Here ffmpeg's single-pass ``loudnorm`` brings each part to
the station's loudness under its true-peak ceiling and ffmpeg's ``ebur128`` measures the result
for the programme record — a few tenths of an LU less exact, seconds faster.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

GAP_SECONDS = 0.6  # between the chime and the voice
CHIME_OFFSET_LU = -1.0  # the chime a little below the voice


def quick_master(voice: Any, out: Path, settings: Any, tags: dict[str, str] | None = None) -> Any:
    """Chime, gap, voice at ``out``; the record's loudness and peak as ffmpeg reads them."""
    from ..errors import MixError
    from ..files import atomic_path
    from . import MixResult, probe_duration

    pieces = [Path(voice)] if isinstance(voice, (str, Path)) else [Path(p) for p in voice]
    chime = settings.intro
    rate, target, ceiling = settings.sample_rate, settings.loudness_lufs, settings.true_peak_dbtp
    norm = f"loudnorm=I={target}:TP={ceiling - 0.5}:LRA=11"
    fmt = f"aresample={rate},aformat=sample_fmts=s16:channel_layouts=mono"
    inputs: list[str] = []
    parts: list[str] = []
    graph: list[str] = []
    if chime is not None:
        inputs += ["-i", str(chime)]
        graph.append(f"[0:a]loudnorm=I={target + CHIME_OFFSET_LU}:TP={ceiling - 0.5},{fmt}[c]")
        graph.append(f"anullsrc=r={rate}:cl=mono,atrim=duration={GAP_SECONDS},{fmt}[g]")
        parts += ["[c]", "[g]"]
    first = len(inputs) // 2
    for piece in pieces:
        inputs += ["-i", str(piece)]
    joined = "".join(f"[{first + i}:a]" for i in range(len(pieces)))
    graph.append(f"{joined}concat=n={len(pieces)}:v=0:a=1,{norm},{fmt}[v]")
    parts.append("[v]")
    graph.append(
        f"{''.join(parts)}concat=n={len(parts)}:v=0:a=1,ebur128=peak=true:framelog=verbose[out]"
    )
    with atomic_path(out) as tmp:
        run = subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", *inputs]
            + ["-filter_complex", ";".join(graph), "-map", "[out]"]
            + [a for k, v in (tags or {}).items() for a in ("-metadata", f"{k}={v}")]
            + ["-c:a", "pcm_s16le", "-f", "wav", "-y", str(tmp)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise MixError(f"应急通知混音失败（ffmpeg）：{run.stderr.strip()[-200:]}")
    summary = run.stderr[run.stderr.rfind("Summary:") :]
    lufs = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    intro_s = probe_duration(chime) + GAP_SECONDS if chime is not None else 0.0
    return MixResult(
        path=out,
        duration_s=probe_duration(out),
        lufs=float(lufs[1]) if lufs else target,
        true_peak_dbtp=float(peak[1]) if peak and peak[1] != "-inf" else ceiling,
        intro_s=intro_s,
    )
