#!/usr/bin/env python3
"""Grades a corpus file with `dojo grade`, as a learner would, against the lab `dojo up` runs.

    python3 tests/labs/corpus/manual/grade.py FILE LEARNER DATA_DIR [DOJO]

FILE is a corpus file (queries, dashboard panels, numbers); LEARNER the name given to
`dojo up --learner`; DATA_DIR its `--data-dir`. Prints each verdict and the false accepts and
false refusals; "not ready" counts as a refusal. Exits 1 when a verdict is wrong.
"""
import json
import subprocess
import sys

import yaml


def main():
    path, learner, data = sys.argv[1:4]
    dojo = sys.argv[4] if len(sys.argv) > 4 else "target/debug/dojo"
    corpus = yaml.safe_load(open(path))
    wrong = 0
    graded = 0
    for answer in corpus["answers"]:
        args = [dojo, "grade", "--lab", corpus["lab"], "--exercise", answer["exercise"],
                "--learner", learner, "--data-dir", data, "--json"]
        if "query" in answer:
            args += ["--query", answer["query"]]
            text = answer["query"]
        elif "panels" in answer:
            for panel in answer["panels"]:
                args += ["--panel", panel]
            text = " ; ".join(answer["panels"])
        elif "number" in answer:
            args += ["--number", str(answer["number"])]
            text = str(answer["number"])
        else:
            continue
        graded += 1
        run = subprocess.run(args, capture_output=True, text=True)
        try:
            verdict = json.loads(run.stdout)["verdict"]
        except (ValueError, KeyError):
            verdict = "crash: " + (run.stdout + run.stderr)[:200]
        if answer.get("known_gap"):
            tag = "known gap"
        elif answer["expect"] == "pass":
            tag = "ok" if verdict == "pass" else "FALSE REFUSAL"
        else:
            tag = "ok" if verdict in ("fail", "not_ready") else "FALSE ACCEPT"
        wrong += tag not in ("ok", "known gap")
        print(f"{tag:14} {verdict:10} {answer['exercise']:22} {text}")
    print(f"{graded} graded, {wrong} wrong")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
