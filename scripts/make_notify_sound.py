"""Write conversa/static/conversa/notify.wav: the notification sound, made here rather than
taken from anywhere. Two short sine tones (E6 then A6, 90 ms each) with soft edges, 16-bit mono
at 22.05 kHz: about 8 KB. Run `python scripts/make_notify_sound.py` to write it again."""

import math
import struct
import wave
from pathlib import Path

RATE = 22050
TONES = [(1318.5, 0.09), (1760.0, 0.12)]  # (hertz, seconds)
VOLUME = 0.35
FADE = 0.012  # seconds of fade in and out: no click at either end

OUT = Path(__file__).resolve().parents[1] / "conversa" / "static" / "conversa" / "notify.wav"


def tone(hertz: float, seconds: float) -> list[int]:
    count = int(RATE * seconds)
    fade = int(RATE * FADE)
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        value = VOLUME * envelope * math.sin(2 * math.pi * hertz * i / RATE)
        samples.append(int(value * 32767))
    return samples


def main() -> None:
    samples = [s for hertz, seconds in TONES for s in tone(hertz, seconds)]
    with wave.open(str(OUT), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
