"""Checks that `load` judges authlib as `run` does: for every check both commands judge, the
verdict in load.json equals the verdict in results.json.

    agree.py RESULTS_JSON LOAD_JSON      exit 1 on any difference, 2 on unreadable input

It also prints load.json's verdict counts. Standard library only.
"""

import json
import sys

# (run's check, load's check): the lane's probes, mixed traffic's invalid kinds, the race.
BOTH = [
    ("JAG-JTI-01", "JAG-JTI-01@load"),
    ("JAG-AUD-02", "JAG-AUD-02@load"),
    ("JAG-TIME-02", "JAG-TIME-02@load"),
    ("JAG-SIG-03", "JAG-SIG-03@load"),
    ("LOAD-02", "LOAD-02"),
]


def verdicts(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return {c["id"]: (c["verdict"], c.get("reason", "")) for c in doc.get("checks", [])}


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        run, load = verdicts(argv[1]), verdicts(argv[2])
    except (OSError, ValueError) as e:
        print(f"agree: {e}", file=sys.stderr)
        return 2
    counts = {}
    for verdict, _ in load.values():
        counts[verdict] = counts.get(verdict, 0) + 1
    print("load checks: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    status = 0
    for run_id, load_id in BOTH:
        r, l = run.get(run_id), load.get(load_id)
        if r is None or l is None:
            print(f"agree: {run_id} or {load_id} missing (run: {r}, load: {l})")
            status = 1
        elif r[0] != l[0]:
            print(f"agree: run {run_id} {r[0]} ({r[1]}) but load {load_id} {l[0]} ({l[1]})")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
