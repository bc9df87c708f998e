"""A fake external judge for tests: prefers the molecule with fewer violations, then the shorter
SMILES; with FAKE_JUDGE_MODE=garbage it answers nonsense, with =short one judgement too few."""

import json
import os
import sys

request = json.load(sys.stdin)
assert request["protocol"] == "chemloop-judge/1"
mode = os.environ.get("FAKE_JUDGE_MODE", "")
if mode == "garbage":
    print("not json")
    sys.exit(0)
judgements = []
for pair in request["pairs"]:
    va, vb = len(pair["violations_a"]), len(pair["violations_b"])
    if va != vb:
        preferred = "a" if va < vb else "b"
        worse = pair["violations_b"] if preferred == "a" else pair["violations_a"]
        judgements.append(
            {"preferred": preferred, "principle": next(iter(worse)), "reason": "fewer violations"}
        )
    elif len(pair["a"]) != len(pair["b"]):
        preferred = "a" if len(pair["a"]) < len(pair["b"]) else "b"
        judgements.append({"preferred": preferred, "principle": "short-synthesis", "reason": "smaller"})
    else:
        judgements.append({"preferred": None, "principle": None, "reason": "cannot tell"})
if mode == "short":
    judgements = judgements[:-1]
print(json.dumps({"judgements": judgements}))
