#!/usr/bin/python3
"""colconv, ONNX Runtime and PyTorch on the same ONNX models, end to end.

    /usr/bin/python3 bench/compare_models.py MODEL_DIR|MODEL.onnx ... [--threads 1,2]

For every model (a directory gives its *.onnx but the op_* cases) it runs, one
after the other, never two at once:
  colconv-bench --model M --threads T --batch B --reps R --warmup W --json OUT/colconv-NAME.json
  node bench/vs_ort.js M --threads T --batch B --reps R --warmup W --json OUT/ort-NAME.json
  bench/vs_torch.py --model M --threads T --batch B --reps R --warmup W --json OUT/torch-NAME.json
model by model, so that the three tools time a model within a minute of each
other (a shared host's speed drifts: the same colconv build took 10.8 and
18.6 ms on AlexNet a quarter of an hour apart, and running every model on
one tool before the next put such drifts into the ratios); with --rounds R,
colconv and ONNX Runtime alternate R times on each model (files -roundK),
each tool's figure the median of its rounds' medians. Then it prints one
table (medians, ms; the ratios are the peer's time over
colconv's: > 1 means colconv is faster) and writes OUT/compare.json, the
three tools' "networks" entries in colconv-bench's schema (paths "auto",
"onnxruntime", "torch"), with colconv-bench's env. A model colconv cannot
import is listed with colconv-bench's message and timed by the peers alone.
Needs a built colconv-bench (--bench, else build/bench/colconv-bench, else
PATH), Node with bench/node_modules (cd bench && npm install
--ignore-scripts) and python3-torch. Not run by CI.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def models_of(items):
    files = []
    for item in items:
        if os.path.isdir(item):
            files += sorted(f for f in glob.glob(os.path.join(item, "*.onnx"))
                            if not os.path.basename(f).startswith("op_"))
        elif item.endswith(".onnx") and os.path.isfile(item):
            files.append(item)
        else:
            sys.exit("compare_models.py: %s is neither a directory nor a .onnx file" % item)
    if not files:
        sys.exit("compare_models.py: no models")
    return files


def find_bench(given):
    for candidate in (given, os.path.join(HERE, "..", "build", "bench", "colconv-bench"),
                      shutil.which("colconv-bench")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("compare_models.py: colconv-bench not found (build it, or give --bench PATH)")


def run(command):
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def colconv(bench, files, a, suffix=""):
    """colconv-bench per model: its network entries, its env, and a message per
    model that did not import or run."""
    entries, env, failed = [], {}, {}
    for f in files:
        name = os.path.basename(f)
        out = os.path.join(a.out, "colconv-%s%s.json" % (name[:-len(".onnx")], suffix))
        r = run([bench, "--model", f, "--threads", a.threads, "--batch", str(a.batch),
                 "--reps", str(a.reps), "--warmup", str(a.warmup), "--quiet", "--json", out])
        if r.returncode != 0 or not os.path.exists(out):
            lines = [l for l in r.stdout.splitlines() if "colconv-bench:" in l]
            failed[name] = lines[0] if lines else r.stdout.strip()[-300:]
            continue
        with open(out) as fh:
            report = json.load(fh)
        env = report["env"]
        entries += report["networks"]
    return entries, env, failed


def peer(command, path):
    r = run(command)
    if r.returncode != 0:
        print(r.stdout, file=sys.stderr)
        return [], {}, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "failed"
    with open(path) as fh:
        report = json.load(fh)
    return report["networks"], report["env"], ""


def pooled(rounds):
    """One entry per (net, threads) from several rounds' entries: the median
    of the rounds' medians, with each round's in "ms_rounds"."""
    by_key = {}
    for entries in rounds:
        for e in entries:
            if e.get("status") == "ok":
                by_key.setdefault((e["net"], e["threads"]), []).append(e)
    result = []
    for group in by_key.values():
        entry = dict(group[0])
        times = sorted(e["ms_median"] for e in group)
        entry["ms_rounds"] = [e["ms_median"] for e in group]
        entry["ms_median"] = times[len(times) // 2]
        result.append(entry)
    return result


def table(files, threads, by_tool, failed):
    def ms(tool, name, t):
        for e in by_tool[tool]:
            if e["net"] == name and e["threads"] == t and e.get("status") == "ok":
                return e["ms_median"]
        return None

    def fmt(v, spec="%10.2f"):
        return spec % v if v is not None else "%10s" % "-"

    print("\n%-20s %3s %10s %10s %10s %9s %9s" % ("model", "thr", "colconv", "ORT", "PyTorch",
                                                   "ORT/cc", "torch/cc"))
    for f in files:
        name = os.path.basename(f)
        for t in threads:
            c, o, p = ms("colconv", name, t), ms("ort", name, t), ms("torch", name, t)
            print("%-20s %3d %s %s %s %s %s" % (
                name[:-len(".onnx")], t, fmt(c), fmt(o), fmt(p),
                fmt(o / c if c and o else None, "%9.2f"), fmt(p / c if c and p else None, "%9.2f")))
    for name, why in failed.items():
        print("colconv did not run %s: %s" % (name, why))
    print("ms: medians of one batch (with --rounds, the median of the rounds' medians); "
          "ORT/cc, torch/cc: the peer's time over colconv's (> 1: colconv faster)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("models", nargs="+", help="model files or directories")
    p.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    p.add_argument("--batch", type=int, default=1, help="images per run (default 1)")
    p.add_argument("--reps", type=int, default=15, help="timed runs (default 15)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    p.add_argument("--out", default="colconv-report/compare", help="directory (default %(default)s)")
    p.add_argument("--bench", help="the colconv-bench binary")
    p.add_argument("--rounds", type=int, default=1,
                   help="colconv and ONNX Runtime alternate this many times on each model "
                        "(PyTorch runs once); the table gives the median round (default 1)")
    a = p.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    files = models_of(a.models)
    bench = find_bench(a.bench)
    os.makedirs(a.out, exist_ok=True)
    common = ["--threads", a.threads, "--batch", str(a.batch), "--reps", str(a.reps),
              "--warmup", str(a.warmup)]
    by_tool = {"colconv": [], "ort": [], "torch": []}
    envs = {"colconv": {}, "ort": {}, "torch": {}}
    errors, failed = {}, {}
    commands = {"ort": lambda f: ["node", os.path.join(HERE, "vs_ort.js"), f],
                "torch": lambda f: [sys.executable, os.path.join(HERE, "vs_torch.py"), "--model",
                                    f]}
    for f in files:
        stem = os.path.basename(f)[:-len(".onnx")]
        rounds = {"colconv": [], "ort": [], "torch": []}
        for r in range(max(a.rounds, 1)):
            suffix = "-round%d" % (r + 1) if a.rounds > 1 else ""
            entries, env, fails = colconv(bench, [f], a, suffix)
            rounds["colconv"].append(entries)
            envs["colconv"] = env or envs["colconv"]
            failed.update(fails)
            for tool in ("ort", "torch") if r == 0 else ("ort",):
                path = os.path.join(a.out, "%s-%s%s.json" % (tool, stem, suffix))
                entries, env, error = peer(commands[tool](f) + common + ["--json", path], path)
                rounds[tool].append(entries)
                envs[tool] = env or envs[tool]
                if error:
                    errors[tool] = error
        for tool, entries in rounds.items():
            by_tool[tool] += pooled(entries)
    table(files, threads, by_tool, failed)
    for tool, error in errors.items():
        if error:
            print("%s failed: %s" % (tool, error))
    merged = {"schema": "colconv-bench-report/1", "tool": "compare_models.py",
              "env": envs["colconv"], "peer_env": {"onnxruntime": envs["ort"],
                                                    "torch": envs["torch"]},
              "layers": [], "networks": by_tool["colconv"] + by_tool["ort"] + by_tool["torch"],
              "failed": failed}
    path = os.path.join(a.out, "compare.json")
    with open(path, "w") as fh:
        json.dump(merged, fh, indent=1)
    print("Report: %s" % path)


if __name__ == "__main__":
    main()
