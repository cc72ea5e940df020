#!/usr/bin/env python3
"""Times PyTorch's conv2d on colconv-bench's layers and writes the report in
colconv-bench's JSON schema (bench/README.md), for

    colconv-bench --merge colconv-report/report.json colconv-report/torch.json

The layers are read from bench/layer_table.c (the table colconv-bench and
its tests use), or given with --layer as benchdnn descriptors. Each layer is
timed with torch.nn.functional.conv2d (path "torch", with bias, NCHW,
inference mode) and, as its roof, torch.mm on the same GEMM shape
(path "torch_mm": M = OC/g, N = OH*OW*batch, K = IC/g*KH*KW, once per group).
Debian: apt-get install python3-torch; run with /usr/bin/python3.

With --model FILE.onnx [...] it times whole networks instead, for the
comparison with `colconv-bench --model` and bench/vs_ort.js: PyTorch 1.13
cannot load an ONNX file, so it runs the PyTorch module the file was exported
from, found by the file's name among tools/make_onnx_models.py's models
(resnet50.onnx -> torchvision's resnet50, with the same seeded weights), in
eval mode under torch.inference_mode(), NCHW, on a random input at --batch
(default 1); --warmup runs (default 3), then exactly --reps (default 15).
Those rows are "networks" entries with path "torch".
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time

DEFAULT_NETS = "lenet5,lenet,alexnet,vgg16,googlenet1x1,resnet50"
QUICK_NETS = "lenet5,lenet,googlenet1x1"
KEYS = ["mb", "g", "ic", "ih", "iw", "oc", "oh", "ow", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw"]
SCHEMA = "colconv-bench-report/1"


class DescError(ValueError):
    pass


def parse_desc(text):
    """benchdnn-style descriptor -> dict, with colconv-bench's rules and messages."""
    values, name, i = {}, "", 0
    while i < len(text):
        if text[i] == "_":
            i += 1
            continue
        if text.startswith('n"', i):
            end = text.find('"', i + 2)
            if end < 0:
                raise DescError("unterminated name at '%s'" % text[i:i + 20])
            name, i = text[i + 2:end], end + 1
            continue
        key = text[i:i + 2] if text[i:i + 2] in KEYS else ("g" if text[i] == "g" else None)
        if key is None:
            raise DescError("unknown key at '%s'" % text[i:i + 20])
        if key in values:
            raise DescError("repeated key at '%s'" % text[i:i + 20])
        i += len(key)
        m = re.match(r"\d+", text[i:])
        if not m:
            raise DescError("missing value at '%s'" % text[i:i + 20])
        values[key] = int(m.group(0))
        i += len(m.group(0))
    for key in ("ic", "ih", "oc", "kh"):
        if key not in values:
            raise DescError("missing key %s" % key)
    d = {"mb": 1, "g": 1, "sh": 1, "ph": 0, "dh": 0}
    d.update(values)
    for w, h in (("iw", "ih"), ("kw", "kh"), ("sw", "sh"), ("pw", "ph"), ("dw", "dh")):
        d.setdefault(w, d[h])
    oh = (d["ih"] + 2 * d["ph"] - (d["dh"] + 1) * (d["kh"] - 1) - 1) // d["sh"] + 1
    ow = (d["iw"] + 2 * d["pw"] - (d["dw"] + 1) * (d["kw"] - 1) - 1) // d["sw"] + 1
    if oh < 1 or ow < 1:
        raise DescError("no output: the kernel is larger than the padded input")
    for key, computed, what in (("oh", oh, "height"), ("ow", ow, "width")):
        if key in values and values[key] != computed:
            raise DescError("inconsistent %s%d: the output %s is %d" % (key, values[key], what, computed))
    d["oh"], d["ow"], d["name"] = oh, ow, name or "layer"
    return d


def canonical(d):
    """colconv-bench's canonical form of a descriptor (bench_format_desc)."""
    s = "mb%d" % d["mb"] + ("g%d" % d["g"] if d["g"] > 1 else "")
    s += "ic%dih%diw%doc%doh%dow%dkh%dkw%d" % (d["ic"], d["ih"], d["iw"], d["oc"], d["oh"], d["ow"], d["kh"], d["kw"])
    if d["sh"] != 1 or d["sw"] != 1:
        s += "sh%dsw%d" % (d["sh"], d["sw"])
    if d["ph"] or d["pw"]:
        s += "ph%dpw%d" % (d["ph"], d["pw"])
    if d["dh"] or d["dw"]:
        s += "dh%ddw%d" % (d["dh"], d["dw"])
    return s + 'n"%s"' % d["name"]


def gflop(d):
    return 2.0 * d["mb"] * d["oc"] * d["oh"] * d["ow"] * (d["ic"] // d["g"]) * d["kh"] * d["kw"] * 1e-9


def read_table(path):
    """(net, desc, count) entries of bench/layer_table.c."""
    text = open(path, encoding="utf-8").read()
    entries = []
    for m in re.finditer(r'(?:L\(|\{)"([^"]+)",\s*"((?:[^"\\]|\\.)*)"(?:\)|,\s*(\d+)\})', text):
        entries.append((m.group(1), m.group(2).replace('\\"', '"'), int(m.group(3) or 1)))
    return entries


def time_it(fn, warmup, reps, budget_ms):
    """colconv-bench's policy: warm-up stops after budget/2, timing after
    budget with >= 3 reps (or 2 * budget); budget 0 = exactly reps."""
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
        if budget_ms and (time.perf_counter() - start) * 1e3 >= budget_ms / 2:
            break
    samples, start = [], time.perf_counter()
    while len(samples) < reps:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        samples.append((t1 - t0) * 1e3)
        elapsed = (t1 - start) * 1e3
        if budget_ms and ((elapsed >= budget_ms and len(samples) >= 3) or elapsed >= 2 * budget_ms):
            break
    return statistics.median(samples), min(samples), max(samples), len(samples)


def row(net, d, count, index, path, threads, times, roof_gflops, impl=""):
    g = gflop(d)
    median, lo, hi, reps = times
    gflops = g / (median * 1e-3)
    return {
        "net": net, "layer": d["name"], "desc": canonical(d), "path": path,
        "threads": threads, "batch": d["mb"], "layout": "nchw", "count": count, "index": index,
        "gflop": g, "ms_median": median, "ms_min": lo, "ms_max": hi, "reps": reps,
        "gflops": gflops, "ratio_to_sgemm": gflops / roof_gflops if roof_gflops else 0.0,
        "fraction_of_peak": None, "workspace_bytes": 0, "threading": "", "auto_pick": "",
        "auto_vs_fastest": 0.0, "impl": impl, "fastest": path == "torch",
        "status": "ok", "error": "",
    }


def time_layer(torch, net, d, count, index, threads, plan):
    F = torch.nn.functional
    g = d["g"]
    x = torch.rand(d["mb"], d["ic"], d["ih"], d["iw"]) - 0.5
    w = torch.rand(d["oc"], d["ic"] // g, d["kh"], d["kw"]) - 0.5
    b = torch.rand(d["oc"]) - 0.5
    conv = lambda: F.conv2d(x, w, b, stride=(d["sh"], d["sw"]), padding=(d["ph"], d["pw"]),
                            dilation=(d["dh"] + 1, d["dw"] + 1), groups=g)
    m, n, k = d["oc"] // g, d["oh"] * d["ow"] * d["mb"], d["ic"] // g * d["kh"] * d["kw"]
    a = torch.rand(g, m, k) - 0.5
    bb = torch.rand(g, k, n) - 0.5
    mm = lambda: [torch.mm(a[i], bb[i]) for i in range(g)]
    with torch.inference_mode():
        roof = time_it(mm, *plan)
        conv_times = time_it(conv, *plan)
    roof_gflops = gflop(d) / (roof[0] * 1e-3)
    return [row(net, d, count, index, "torch_mm", threads, roof, roof_gflops),
            row(net, d, count, index, "torch", threads, conv_times, roof_gflops,
                "torch.nn.functional.conv2d")]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def env(torch, threads):
    return {
        "cpu_model": cpu_model(), "cores": os.cpu_count(), "threads": threads,
        "torch_version": torch.__version__,
        "torch_parallel": torch.__config__.parallel_info().strip().splitlines()[0:6],
        "torch_mkldnn": bool(torch.backends.mkldnn.is_available()),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def model_module(torch, file, batch):
    """The module tools/make_onnx_models.py exported as `file`, and its input."""
    tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
    sys.path.insert(0, tools)
    import make_onnx_models as m
    sys.path.pop(0)
    name = os.path.basename(file)[:-len(".onnx")]
    table = m.ops()
    if name in table:
        module, shape, _ = table[name]
    elif name in m.NETWORKS:
        module, shape, _ = m.network(name)
    else:
        raise ValueError("%s: not a model of tools/make_onnx_models.py (PyTorch cannot load "
                         "ONNX files: it runs the module a file was exported from)" % file)
    gen = torch.Generator().manual_seed(14)
    module.eval()
    m.randomise(module, gen)
    return module, torch.rand(batch, *shape[1:], generator=gen)


def time_models(torch, a):
    """--model: each file's module end to end per thread count."""
    threads = [int(t) for t in a.threads.split(",")] if a.threads else [torch.get_num_threads()]
    batch = a.batch or 1
    plan = [3 if a.warmup is None else a.warmup, a.reps or 15, 0]
    networks = []
    print("%-24s %3s %10s %22s" % ("model", "thr", "torch ms", "[min - max]"))
    for file in a.model:
        module, x = model_module(torch, file, batch)
        for t in threads:
            torch.set_num_threads(t)
            with torch.inference_mode():
                median, lo, hi, reps = time_it(lambda: module(x), *plan)
            print("%-24s %3d %10.3f %22s" % (os.path.basename(file), t, median,
                                             "[%.3f - %.3f]" % (lo, hi)), flush=True)
            shape = list(x.shape) + [1, 1]
            networks.append({
                "net": os.path.basename(file), "source": "onnx", "layer": "(network)",
                "desc": "mb%dic%dih%diw%d" % (batch, shape[1], shape[2], shape[3]),
                "path": "torch", "threads": t, "batch": batch, "layout": "nchw",
                "ms_median": median, "ms_min": lo, "ms_max": hi, "reps": reps,
                "images_per_s": batch / (median * 1e-3), "status": "ok", "error": ""})
    return threads, networks


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", help="networks of the table (default %s)" % DEFAULT_NETS)
    p.add_argument("--layer", help="one convolution as a benchdnn descriptor")
    p.add_argument("--model", nargs="+", metavar="FILE.onnx",
                   help="whole networks: the modules these files were exported from")
    p.add_argument("--batch", type=int, help="images per run (default: the table's 1)")
    p.add_argument("--threads", help="thread counts, e.g. 1,2 (default: torch's)")
    p.add_argument("--reps", type=int, help="timed repetitions, exactly (default: up to 25, ~1 s)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 3)")
    p.add_argument("--quick", action="store_true", help="%s, few repetitions" % QUICK_NETS)
    p.add_argument("--json", default="colconv-report/torch.json", help="output (default %(default)s)")
    p.add_argument("--table", default=os.path.join(here, "layer_table.c"), help="the layer table")
    a = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        sys.exit("vs_torch.py: PyTorch not found (apt-get install python3-torch; run /usr/bin/python3)")

    if a.model:
        try:
            threads, networks = time_models(torch, a)
        except ValueError as e:
            p.error(str(e))
        write_report(a.json, {"schema": SCHEMA, "tool": "vs_torch.py", "env": env(torch, threads),
                              "layers": [], "networks": networks})
        return

    plan = [a.warmup if a.warmup is not None else (1 if a.quick else 3),
            a.reps or (5 if a.quick else 25), 0 if a.reps else (100 if a.quick else 1000)]
    try:
        threads = [int(t) for t in a.threads.split(",")] if a.threads else [torch.get_num_threads()]
        if a.layer:
            layers = [("custom", parse_desc(a.layer), 1)]
        else:
            nets = (a.net or (QUICK_NETS if a.quick else DEFAULT_NETS)).split(",")
            table = read_table(a.table)
            unknown = [n for n in nets if n not in {e[0] for e in table}]
            if unknown:
                p.error("unknown network '%s'" % unknown[0])
            layers = [(e[0], parse_desc(e[1]), e[2]) for n in nets for e in table if e[0] == n]
    except (DescError, ValueError) as e:
        p.error(str(e))
    if a.batch:
        for _, d, _ in layers:
            d["mb"] = a.batch

    rows = []
    print("%-12s %-24s %3s %10s %10s %8s %7s" % ("net", "layer", "thr", "torch ms", "mm ms", "GFLOP/s", "/mm"))
    for t in threads:
        torch.set_num_threads(t)
        for index, (net, d, count) in enumerate(layers):
            roof, conv = time_layer(torch, net, d, count, index, t, plan)
            rows += [roof, conv]
            print("%-12s %-24s %3d %10.3f %10.3f %8.1f %7.2f" % (net, d["name"], t, conv["ms_median"],
                  roof["ms_median"], conv["gflops"], conv["ratio_to_sgemm"]), flush=True)
    write_report(a.json, {"schema": SCHEMA, "tool": "vs_torch.py", "env": env(torch, threads),
                          "layers": rows, "networks": []})


def write_report(path, report):
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print("Report: %s" % path)


if __name__ == "__main__":
    main()
