"""Summarise a py-spy collapsed-stack file (`py-spy record --format raw`) written by realtime.py --profile.

    python bench/profile_summary.py bench/results/<stamp>-parley-pubsub-0.txt [--top 25] [--thread NAME]

Prints, per thread, the share of samples, then the functions with the most inclusive
samples (on the stack anywhere) and the most self samples (leaf frames). With
`--idle` sampling, waiting frames are included, which is what shows a queue.
"""

from __future__ import annotations

import argparse
import collections
import re


def frames_of(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--thread", default=None, help="only stacks whose thread frame contains this text")
    parser.add_argument("--grep", default=None, help="only stacks containing this text")
    args = parser.parse_args()
    threads: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    total = 0
    with open(args.path) as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = frames_of(stack)
            thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else "?"
            if args.thread and args.thread not in stack.split(";", 2)[0] + stack.split(";", 2)[1 % len(frames)]:
                continue
            if args.grep and args.grep not in stack:
                continue
            total += n
            threads[thread] += n
            seen = set()
            for frame in frames:
                name = re.sub(r":\d+\)", ")", frame)
                if name not in seen:
                    inclusive[name] += n
                    seen.add(name)
            leaf[re.sub(r":\d+\)", ")", frames[-1])] += n
    print(f"{total} samples")
    for title, counter in (("threads", threads), ("inclusive", inclusive), ("self", leaf)):
        print(f"\n## {title}")
        for name, n in counter.most_common(args.top):
            print(f"{100 * n / max(1, total):5.1f}%  {name[:150]}")


if __name__ == "__main__":
    main()
