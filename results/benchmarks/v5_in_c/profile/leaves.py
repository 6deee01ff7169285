"""Leaf-frame shares of a py-spy raw profile of prof.py's ES generations (the frames under
``evaluate``): the two C calls show as the Python frames that make them
(``BatchedLocomotion._native_physics``, ``NativeSNNStep._call``, which also hold those
functions' own Python).

    py-spy record -r 250 -f raw -o prof.txt -- python results/benchmarks/v5_in_c/profile/prof.py 14
    python results/benchmarks/v5_in_c/profile/leaves.py prof.txt
"""

import collections
import re
import sys

total, leaf = 0, collections.Counter()
for line in open(sys.argv[1]).read().splitlines():
    stack, count = line.rsplit(" ", 1)
    frames = stack.split(";")
    if not any("evaluate" in f for f in frames) or not any("prof.py" in f for f in frames):
        continue
    total += int(count)
    leaf[re.sub(r" \(.*?/([^/]+\.py):\d+\)", r" (\1)", frames[-1])] += int(count)
print("total samples", total)
for name, n in leaf.most_common(30):
    print(f"{n:6d} {100 * n / total:5.1f}% {name}")
