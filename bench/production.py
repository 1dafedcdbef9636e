"""Benchmark programme production: ``broadcast.mixing.master`` against ffmpeg alone.

    .venv/bin/python bench/production.py [--runs 3] [--rss 5 30 60] [--keep DIR]

1. Builds "cached speech": espeak-ng Mandarin sentences at 24 kHz (edge-tts's rate), looped
   to a 5-minute WAV.
2. Times, in turns, ``master()`` producing a 5-minute 44.1 kHz mono 128 kb/s MP3 with intro and outro,
   and, in the same run, ffmpeg alone encoding the same intro + speech + outro:
   (a) concat + encode only (no loudness work: the floor), (b) concat + ``loudnorm``
   (ffmpeg's own one-pass EBU R128 normaliser with true-peak limiting) + encode.
3. Measures peak RSS of a separate process producing 5-, 30- and 60-minute programmes
   (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a fresh wrapper whose only child runs
   ``master``), with that child's own figure and its footprint after the imports alone.
4. Prints a table, with ffmpeg ``ebur128`` figures of every output.

Goal: master ≤ 1.3× ffmpeg concat + encode. master is one pass of analysis (decode and meter
the voice, compose with pydub, plan and solve the limiter), then the one encode, whose LAME run
alone takes about as long as the whole baseline, with a read-back of the written stream. The
lossy encoder's loudness shift is measured on the voice's first 8 s while the rest is decoded; the
make-up solver starts from the target minus the unlimited loudness and runs inside the encoder's
input (the two ffmpeg processes of the encode start up meanwhile); 16-bit WAV jingles already at
the programme's rate are read without an ffmpeg (each one ~60 ms of CPU). On this 2-core machine,
shared with other jobs while measured, master took 3.0 s against 2.1 s: 1.3-1.5× (single runs
1.26-1.76×; the previous code, in turns with this in the same session, 0.15 s slower on average,
1.46-1.90×). LAME starts about 0.7 s after master is called (decode and meter 0.4 s, solve 0.2 s).
pydub composes the programme in 10-s windows into an int16 file (TMPDIR), so memory holds
per-32-frame-block figures for the limiter (12 bytes per block, ~60 MB for an hour) rather than
the programme itself (318 MB for an hour as int16): peak RSS about 136 / 175 / 226 MB for 5-,
30- and 60-minute programmes. The table's last line before the memory figures gives the ratio
of every run.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTRO, OUTRO = ROOT / "audio" / "intro.wav", ROOT / "audio" / "outro.wav"
SENTENCES = [
    "村民朋友们，大家好，欢迎收听今天的法治广播。",
    "今天我们来学习民法典中关于相邻关系的规定。",
    "不动产的相邻权利人应当按照有利生产、方便生活、团结互助、公平合理的原则，正确处理相邻关系。",
    "建造建筑物，不得违反国家有关工程建设标准，不得妨碍相邻建筑物的通风、采光和日照。",
    "遇到纠纷，可以先找村委会调解，也可以拨打一二三四八法律服务热线咨询。",
]
CHILD = """
import json, resource, sys
from pathlib import Path
from broadcast import mixing
from broadcast.mixing.loudness import load_numeric
load_numeric()  # numpy + scipy: the fixed part of the footprint
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pieces = [Path(p) for p in sys.argv[2:]]
s = mixing.MixSettings(intro=Path({intro!r}), outro=Path({outro!r}))
r = mixing.master(pieces, Path(sys.argv[1]), s)
print(json.dumps({{"base_kb": base, "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "duration": r.duration_s, "lufs": r.lufs, "tp": r.true_peak_dbtp}}))
"""


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def ebur128(path: Path) -> tuple[float, float]:
    err = run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        text=True,
    ).stderr
    summary = err[err.rindex("Summary:") :]
    return (
        float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1]),
        float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)[1]),
    )


def build_speech(work: Path, minutes: float) -> Path:
    """espeak-ng sentences → 24 kHz mono WAV looped to ``minutes``."""
    parts = []
    for i, text in enumerate(SENTENCES):
        wav = work / f"s{i}.wav"
        run(["espeak-ng", "-v", "cmn", "-s", "150", "-w", str(wav), text])
        parts.append(wav)
    listing = work / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    once = work / "once.wav"
    run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-ar",
            "24000",
            "-ac",
            "1",
            str(once),
        ]
    )
    out = work / f"speech_{minutes:g}min.wav"
    run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(once),
            "-t",
            str(minutes * 60),
            "-c:a",
            "pcm_s16le",
            str(out),
        ]
    )
    return out


def ffmpeg_alone(voice: Path, out: Path, loudnorm: bool) -> None:
    chain = "[a0][a1][a2]concat=n=3:v=0:a=1"
    if loudnorm:
        chain += ",loudnorm=I=-16:TP=-1:LRA=11"
    chain += ",aresample=44100[out]"
    graph = (
        ";".join(f"[{i}:a]aresample=44100,aformat=channel_layouts=mono[a{i}]" for i in range(3))
        + ";"
        + chain
    )
    run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(INTRO),
            "-i",
            str(voice),
            "-i",
            str(OUTRO),
            "-filter_complex",
            graph,
            "-map",
            "[out]",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(out),
        ]
    )


def timed(fns: list, runs: int) -> list[list[float]]:
    """Seconds of each function in every run, run in turns (so machine load hits all alike)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, ts in zip(fns, times, strict=True):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return times


def rss_wrapper(out: str, pieces: list[str]) -> None:
    """Run master in a child; print its peak RSS (this wrapper has no other children)."""
    code = CHILD.format(intro=str(INTRO), outro=str(OUTRO))
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, out, *pieces], capture_output=True, text=True, cwd=ROOT
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["children_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    info["seconds"] = elapsed
    print(json.dumps(info))


def measure_rss(out: Path, pieces: list[Path]) -> dict:
    proc = run([sys.executable, __file__, "--rss-wrapper", str(out), *map(str, pieces)], text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the work files in this folder")
    ap.add_argument("--rss", type=int, nargs="*", default=[5, 30, 60], help="programme minutes")
    ap.add_argument("--rss-wrapper", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_wrapper:
        rss_wrapper(args.rss_wrapper[0], args.rss_wrapper[1:])
        return

    sys.path.insert(0, str(ROOT))
    from broadcast.mixing import MixSettings, master

    with tempfile.TemporaryDirectory(prefix="bench-production-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        speech = build_speech(work, 5)
        settings = MixSettings(intro=INTRO, outro=OUTRO)
        ours, plain, norm = work / "master.mp3", work / "ffmpeg.mp3", work / "loudnorm.mp3"
        master(speech, ours, settings)  # warm-up (imports, page cache)
        runs = timed(
            [
                lambda: master(speech, ours, settings),
                lambda: ffmpeg_alone(speech, plain, False),
                lambda: ffmpeg_alone(speech, norm, True),
            ],
            args.runs,
        )

        t_master, t_plain, t_norm = (statistics.median(ts) for ts in runs)
        rss = {m: measure_rss(work / f"rss{m}.mp3", [speech] * max(1, m // 5)) for m in args.rss}

        print(
            f"\n5-minute programme (intro + {5 * 60} s speech + outro → 44.1 kHz mono "
            f"128 kb/s MP3), median of {args.runs} runs\n"
        )
        print(f"{'producer':<34}{'time s':>8}{'master/this':>13}{'I LUFS':>9}{'TP dBTP':>9}")
        rows = [
            ("broadcast.mixing.master", t_master, ours),
            ("ffmpeg concat + encode", t_plain, plain),
            ("ffmpeg concat + loudnorm + encode", t_norm, norm),
        ]
        for label, t, path in rows:
            lufs, tp = ebur128(path)
            print(f"{label:<34}{t:>8.2f}{t_master / t:>12.2f}×{lufs:>9.1f}{tp:>9.1f}")
        per_run = " ".join(f"{m / p:.2f}×" for m, p in zip(runs[0], runs[1], strict=True))
        print(f"master / ffmpeg concat + encode in each run: {per_run}")
        print(
            f"\n{'peak RSS (separate process)':<30}{'children MB':>12}{'master MB':>10}"
            f"{'imports MB':>11}{'wall s':>8}{'I LUFS':>9}{'TP dBTP':>9}"
        )
        for m, info in rss.items():
            label, (lufs, tp) = f"{m}-minute programme", ebur128(work / f"rss{m}.mp3")
            print(
                f"{label:<30}{info['children_kb'] / 1024:>12.1f}{info['self_kb'] / 1024:>10.1f}"
                f"{info['base_kb'] / 1024:>11.1f}{info['seconds']:>8.1f}{lufs:>9.1f}{tp:>9.1f}"
            )
        print(
            "children MB = getrusage(RUSAGE_CHILDREN).ru_maxrss in a wrapper whose only child "
            "ran master (the largest process of that tree);\nmaster MB = RUSAGE_SELF of that "
            "child; imports MB = the same child after importing numpy/scipy, before master.\n"
            "(ffmpeg helpers are spawned with vfork, so their ru_maxrss starts at the parent's "
            "and cannot be told apart.)"
        )
        print("\ngoal: master ≤ 1.3× ffmpeg")


if __name__ == "__main__":
    main()
