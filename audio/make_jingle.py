"""Synthesise the station's intro and outro jingles (original, no third-party music).

    python audio/make_jingle.py            # writes audio/intro.wav and audio/outro.wav

Bright D-major bell chimes over a soft pad, with ADSR envelopes and a small synthetic room
reverb, all in numpy. Deterministic: the same bytes on every run (fixed noise seed, no
clock); 44.1 kHz mono 16-bit PCM. The tones sit between 290 Hz and 4 kHz, where village horn
loudspeakers reproduce sound well. ``broadcast.mixing.master`` re-levels the jingles to the
voice, so only their shape matters here; they are peak-normalised to -3 dBFS.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 44100
HERE = Path(__file__).resolve().parent

# Equal-tempered pitches (A4 = 440 Hz) of the notes used.
NOTE = {
    name: 440.0 * 2 ** (semis / 12)
    for name, semis in {
        "D4": -7,
        "F#4": -3,
        "A4": 0,
        "B4": 2,
        "C#5": 4,
        "D5": 5,
        "E5": 7,
        "F#5": 9,
        "G5": 10,
        "A5": 12,
        "B5": 14,
        "C#6": 16,
        "D6": 17,
        "E6": 19,
        "F#6": 21,
        "A6": 24,
    }.items()
}

# Bell partials: (frequency ratio, relative amplitude, decay time constant factor).
BELL = (
    (1.0, 1.0, 1.0),
    (2.0, 0.42, 0.55),
    (3.0, 0.16, 0.35),
    (4.16, 0.08, 0.22),
    (5.43, 0.04, 0.15),
)


def adsr(n: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    """Linear attack, exponential decay to ``sustain``, cosine release over the last part."""
    t = np.arange(n) / RATE
    env = np.where(t < attack, t / attack, sustain + (1 - sustain) * np.exp(-(t - attack) / decay))
    r = min(n, int(release * RATE))
    env[n - r :] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, r))
    return env


def bell(freq: float, length: float, ring: float) -> np.ndarray:
    """A soft struck-bell tone: inharmonic partials, each decaying at its own rate."""
    n = int(length * RATE)
    t = np.arange(n) / RATE
    tone = np.zeros(n)
    for ratio, amp, tau in BELL:
        f = freq * ratio
        if f > 5000:
            continue
        # a slow 0.3 % vibrato on the upper partials gives a gentle shimmer
        phase = 2 * np.pi * f * t + 0.003 * ratio * np.sin(2 * np.pi * 4.5 * t)
        tone += amp * np.sin(phase) * np.exp(-t / (ring * tau))
    return tone * adsr(n, 0.004, 0.08, 1.0, 0.05)


def pad(freqs: list[float], length: float) -> np.ndarray:
    """Soft sustained chord: slightly detuned sine pairs with a slow swell."""
    n = int(length * RATE)
    t = np.arange(n) / RATE
    chord = sum(
        np.sin(2 * np.pi * f * t) + 0.6 * np.sin(2 * np.pi * f * 1.004 * t + 1.0) for f in freqs
    )
    return chord * adsr(n, 0.35, 0.8, 0.55, min(0.6, length / 2))


def reverb(x: np.ndarray, seconds: float = 1.6, mix: float = 0.22) -> np.ndarray:
    """Small room: convolution with seeded, exponentially decaying, darkened noise."""
    rng = np.random.default_rng(20240611)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    ir = rng.standard_normal(n) * np.exp(-t * 6.9 / seconds)  # -60 dB at ``seconds``
    ir = np.convolve(ir, np.ones(6) / 6, mode="same")  # soften the highs
    ir[: int(0.012 * RATE)] = 0  # 12 ms pre-delay
    ir /= np.sqrt(np.sum(ir**2))
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    return (1 - mix) * x + mix * wet


def place(track: np.ndarray, sound: np.ndarray, at: float, gain: float) -> None:
    i = int(at * RATE)
    j = min(len(track), i + len(sound))
    track[i:j] += gain * sound[: j - i]


def render(
    events: list[tuple[float, str, float, float]],
    pads: list[tuple[float, float, list[str]]],
    length: float,
) -> np.ndarray:
    track = np.zeros(int(length * RATE))
    for at, note, ring, gain in events:
        place(track, bell(NOTE[note], min(length - at, ring * 3.2), ring), at, gain)
    for at, dur, notes in pads:
        place(track, pad([NOTE[n] for n in notes], dur), at, 0.05)
    out = reverb(track)
    fade = int(0.25 * RATE)
    out[-fade:] *= np.linspace(1, 0, fade) ** 2
    return out / np.max(np.abs(out)) * 10 ** (-3 / 20)


def intro() -> np.ndarray:
    """~6 s: rising D-major arpeggio, IV and V answers, then a ringing tonic chord."""
    step = 0.19
    line = [
        "D5",
        "F#5",
        "A5",
        "D6",  # I
        "B5",
        "G5",
        "D6",
        "B5",  # IV
        "C#6",
        "A5",
        "E6",
        "C#6",
    ]  # V
    events = [
        (
            0.05 + i * step + (0.08 if i >= 4 else 0) + (0.08 if i >= 8 else 0),
            note,
            0.55,
            0.8 if i % 4 == 0 else 0.6,
        )
        for i, note in enumerate(line)
    ]
    final = 0.05 + 12 * step + 0.3
    events += [
        (final, "D6", 1.3, 0.9),
        (final + 0.02, "A5", 1.3, 0.6),
        (final + 0.04, "F#5", 1.3, 0.6),
        (final + 0.35, "A6", 0.8, 0.25),
    ]
    pads = [
        (0.0, 0.9, ["D4", "F#4", "A4"]),
        (0.85, 0.85, ["B4", "D5", "G5"]),
        (1.65, 0.9, ["C#5", "E5", "A4"]),
        (final - 0.05, 3.0, ["D4", "F#4", "A4"]),
    ]
    return render(events, pads, 6.0)


def outro() -> np.ndarray:
    """~3 s: descending D-major arpeggio settling on the tonic."""
    line = ["A6", "F#6", "D6", "A5", "F#5"]
    events = [(0.05 + i * 0.2, note, 0.5, 0.7) for i, note in enumerate(line)]
    events += [(1.15, "D5", 1.0, 0.9), (1.17, "A5", 1.0, 0.45), (1.19, "D6", 1.0, 0.35)]
    pads = [(0.0, 2.6, ["D4", "F#4", "A4"])]
    return render(events, pads, 3.0)


def write_wav(path: Path, x: np.ndarray) -> None:
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def main() -> None:
    for name, sound in (("intro.wav", intro()), ("outro.wav", outro())):
        path = HERE / name
        write_wav(path, sound)
        print(f"{path}: {len(sound) / RATE:.2f} s")


if __name__ == "__main__":
    main()
