#!/usr/bin/env python3
"""Writes the seed corpora from the conformance vectors (run once, check in).

    python3 fuzz/seeds/generate.py

For every vector of sse-codec-tests/vectors/*.json of at most 4 KiB, one seed
per target in seeds/<target>/<vector name>: the input format of
fuzz/src/lib.rs, a header (chunk lengths, knob) then the stream. The headers
go round a few chunkings (whole, one byte at a time, 2, 3+7, with empty
chunks, 16) and knobs, so that the seeds start from varied splits.
"""
import base64
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
MAX = 4096

CHUNKINGS = [[], [1], [2], [3, 7], [0, 1, 5], [16]]
KNOBS = {
    # knob² × 4 bytes: the small limit of the second decoder run.
    "parse": [0, 2, 3, 5, 8],
    # Odd: start from a seeded last event ID.
    "differential": [0, 1, 0],
}


def header(lens, knob):
    return bytes([(knob << 4) | len(lens)] + lens)


def main():
    vectors = []
    for path in sorted((ROOT / "sse-codec-tests" / "vectors").glob("*.json")):
        vectors += json.loads(path.read_text())
    for target, knobs in KNOBS.items():
        out = SEEDS / target
        out.mkdir(parents=True, exist_ok=True)
        for old in out.iterdir():
            old.unlink()
        n = 0
        for v in vectors:
            stream = base64.b64decode(v["input_b64"])
            if len(stream) > MAX:
                continue
            name = re.sub(r"[^A-Za-z0-9._-]", "_", v["name"])
            lens = CHUNKINGS[n % len(CHUNKINGS)]
            knob = knobs[n % len(knobs)]
            (out / name).write_bytes(header(lens, knob) + stream)
            n += 1
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()
