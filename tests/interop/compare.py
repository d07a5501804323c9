"""Compares the verdicts of an xaa-conform run with tests/interop/expected.yaml.

    compare.py RESULTS_JSON EXPECTED_YAML            check; exit 1 on any difference
    compare.py --update RESULTS_JSON EXPECTED_YAML   rewrite EXPECTED_YAML from the results

expected.yaml is a flat mapping, one `CHECK-ID: VERDICT` per line, each optionally preceded by
`#` comment lines that belong to it. Every FAIL and WARN must carry a comment that explains it
(why authlib behaves so); a comment starting with `TODO` does not count.

--update keeps the comments of every check whose verdict did not change, drops the comments of
checks whose verdict changed (their old explanation no longer applies), and gives every new or
changed FAIL/WARN a `# TODO` comment with the suite's reason, so that the next check run fails
until a person has written the explanation. The file's header (comments before the first entry)
is kept. It uses only the standard library, so it runs with any python3.
"""

import json
import re
import sys

LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:\s*([A-Z]+)\s*$")
EXPLAINED = {"FAIL", "WARN"}


def parse_expected(path):
    """Returns (header lines, {id: verdict}, {id: comment lines}, [ids in order])."""
    header, verdicts, comments, order = [], {}, {}, []
    pending = []
    seen_entry = False
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return [], {}, {}, []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            if not seen_entry and pending:
                header.extend(pending + [""])
                pending = []
            continue
        if line.lstrip().startswith("#"):
            pending.append(line.strip())
            continue
        m = LINE.match(line)
        if not m:
            sys.exit(f"{path}:{n}: expected `CHECK-ID: VERDICT` or a # comment, got: {raw!r}")
        cid, verdict = m.groups()
        if cid in verdicts:
            sys.exit(f"{path}:{n}: {cid} is listed twice")
        seen_entry = True
        verdicts[cid] = verdict
        comments[cid] = pending
        order.append(cid)
        pending = []
    header.extend(pending)  # trailing comments: keep them with the header
    return header, verdicts, comments, order


def load_results(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [(c["id"], c["verdict"], c.get("reason", "")) for c in data["checks"]]


def explained(lines):
    return any(not l.lstrip("# ").startswith("TODO") and l.lstrip("# ").strip() for l in lines)


def check(results_path, expected_path):
    _, expected, comments, _ = parse_expected(expected_path)
    results = load_results(results_path)
    got = {cid: (v, reason) for cid, v, reason in results}
    rows = []
    for cid, (verdict, reason) in got.items():
        want = expected.get(cid, "(not listed)")
        if want != verdict:
            rows.append((cid, want, verdict, reason))
    for cid, want in expected.items():
        if cid not in got:
            rows.append((cid, want, "(not run)", "the check is in expected.yaml but not in the results"))
    unexplained = [c for c, v in expected.items() if v in EXPLAINED and not explained(comments[c])]

    counts = {}
    for _, v, _ in results:
        counts[v] = counts.get(v, 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    if rows:
        print(f"interop: {len(rows)} verdict(s) differ from {expected_path}:")
        w = max(len(r[0]) for r in rows)
        print(f"  {'check'.ljust(w)}  {'expected':<12}  {'got':<12}  reason")
        for cid, want, verdict, reason in sorted(rows):
            print(f"  {cid.ljust(w)}  {want:<12}  {verdict:<12}  {reason}")
    if unexplained:
        print(f"interop: {expected_path} lists FAIL/WARN without an explanation comment: "
              + ", ".join(unexplained))
    if rows:
        print("interop: after checking the reasons, `tests/interop/run.sh --update` rewrites the file")
    if unexplained:
        print("interop: replace each `# TODO` above them with why authlib behaves so")
    if rows or unexplained:
        return 1
    print(f"interop: all {len(results)} verdicts as expected ({summary})")
    return 0


def update(results_path, expected_path):
    header, expected, comments, _ = parse_expected(expected_path)
    results = load_results(results_path)
    out = list(header)
    if out and out[-1] != "":
        out.append("")
    changed = []
    for cid, verdict, reason in results:
        old = expected.get(cid)
        if old == verdict:
            keep = comments.get(cid, [])
        else:
            keep = []
            changed.append((cid, old or "(new)", verdict))
        if verdict in EXPLAINED and not explained(keep):
            keep = keep + [f"# TODO explain as authlib's behaviour. Suite's reason: {reason}"]
        out.extend(keep)
        out.append(f"{cid}: {verdict}")
    removed = [c for c in expected if c not in {r[0] for r in results}]
    with open(expected_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    for cid, old, new in changed:
        print(f"interop: {cid}: {old} -> {new}")
    for cid in removed:
        print(f"interop: {cid}: removed (not in the results)")
    print(f"interop: rewrote {expected_path}; review it with `git diff`, and replace every "
          "`# TODO` with an explanation")
    return 0


def main(argv):
    if len(argv) == 3 and argv[0] == "--update":
        return update(argv[1], argv[2])
    if len(argv) == 2:
        return check(argv[0], argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
