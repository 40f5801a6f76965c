#!/usr/bin/env python3
"""Runs `backdrop bench` at 720p and 1080p with each engine (as fast as possible, and paced at
30 fps), then writes target/bench-report/report.md and stages.png (per-stage CPU ms, gnuplot).
Usage: scripts/bench_report.py BACKDROP_BINARY CLIP"""
import os, re, subprocess, sys

binary, clip = sys.argv[1], sys.argv[2]
out = "target/bench-report"
os.makedirs(out, exist_ok=True)
SIZES = ["1280x720", "1920x1080"]
ENGINES = ["onnxruntime", "tract"]


def bench(size, engine, fps=None, model=None, tag=""):
    cmd = [binary, "bench", clip, "--size", size, "--frames", "300", "--engine", engine]
    if fps:
        cmd += ["--fps", str(fps)]
    if model:
        cmd += ["--model", model]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    open(f"{out}/{engine}_{size}{'_30fps' if fps else ''}{tag}.txt", "w").write(text)
    stages = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 4 and all(re.fullmatch(r"[0-9.]+", x) for x in f[-3:]):
            stages[" ".join(f[:-3])] = tuple(float(x) for x in f[-3:])
    fps_, cpu = map(float, re.search(r"end-to-end: ([0-9.]+) fps, ([0-9.]+) ms CPU/frame", text).groups())
    cores = re.search(r"([0-9.]+) cores used", text)
    mask_rate = float(re.search(r"mask rate ([0-9.]+)/s", text).group(1))
    model = re.search(r"^model: (.*)$", text, re.M).group(1)
    return dict(stages=stages, fps=fps_, cpu=cpu, cores=float(cores.group(1)) if cores else None,
                mask_rate=mask_rate, model=model)


def paced(size, engine, model=None, tag=""):
    """Three paced runs (this shared machine is noisy); the one with the median CPU/frame."""
    rs = sorted((bench(size, engine, 30, model, f"{tag}_{i}") for i in range(3)), key=lambda r: r["cpu"])
    rs[1]["all_cpu"] = [r["cpu"] for r in rs]
    return rs[1]


runs = {}
for size in SIZES:
    for eng in ENGINES:
        print(f"bench {size} {eng} ...", flush=True)
        runs[(size, eng)] = bench(size, eng)
        runs[(size, eng, 30)] = paced(size, eng)
print("bench 1280x720 onnxruntime, model selfie (256x256) ...", flush=True)
general = paced("1280x720", "onnxruntime", "selfie", "_selfie")
TARGET = {"1280x720": 7.0, "1920x1080": 14.0}

order = ["capture+decode", "resize", "inference", "mask refinement", "person tracking", "composition", "convert+write", "latency"]
md = ["# Backdrop bench report", "",
      f"Clip: `{clip}`, 300 frames, blurred background, MJPEG decode and YUYV conversion included. "
      "Wall times are per stage (threads overlap); CPU is the stage's own thread CPU time. "
      "`end-to-end` runs as fast as the pipeline goes; `paced` feeds 30 fps like a webcam.", ""]
for size in SIZES:
    for eng in ENGINES:
        r, p = runs[(size, eng)], runs[(size, eng, 30)]
        md += [f"## {size}, {eng}, model {r['model']}", "", "| stage | median ms | p99 ms | CPU ms |", "|---|---|---|---|"]
        for s in order:
            if s in r["stages"]:
                m, p99, c = r["stages"][s]
                md.append(f"| {s} | {m:.2f} | {p99:.2f} | {c:.2f} |")
        md += ["", f"- end-to-end: **{r['fps']:.1f} fps**, {r['cpu']:.1f} ms CPU/frame, mask rate {r['mask_rate']:.0f}/s",
               f"- paced at 30 fps: **{p['cpu']:.1f} ms CPU/frame** (median of 3 runs: "
               + ", ".join(f"{c:.1f}" for c in p["all_cpu"])
               + f"; target {TARGET[size]:.0f} ms: {'met' if p['cpu'] <= TARGET[size] else 'NOT met'}), "
               f"{p['cores']:.2f} cores, mask rate {p['mask_rate']:.0f}/s, "
               f"latency p99 {p['stages'].get('latency', (0, 0, 0))[1]:.1f} ms", ""]
md += ["## 1280x720, onnxruntime, model " + general["model"] + " (the general model, for comparison)", "",
       f"- paced at 30 fps: **{general['cpu']:.1f} ms CPU/frame** (median of 3 runs: "
       + ", ".join(f"{c:.1f}" for c in general["all_cpu"]) + f"), inference "
       f"{general['stages'].get('inference', (0, 0, 0))[2]:.2f} ms CPU", ""]
open(f"{out}/report.md", "w").write("\n".join(md) + "\n")

# Chart: CPU ms per stage (paced at 30 fps), one bar per configuration.
cfgs = [(s, e) for s in SIZES for e in ENGINES]
with open(f"{out}/stages.dat", "w") as f:
    f.write("stage " + " ".join(f'"{s} {e}"' for s, e in cfgs) + "\n")
    for st in order[:-1]:
        f.write(f'"{st}" ' + " ".join(f"{runs[(s, e, 30)]['stages'].get(st, (0, 0, 0))[2]:.3f}" for s, e in cfgs) + "\n")
gp = f"""set terminal png size 900,500
set output '{out}/stages.png'
set title 'Backdrop: CPU ms per frame by stage (paced 30 fps, blurred background)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'CPU ms'
set xtics rotate by -20
set key top right
plot for [i=2:{len(cfgs) + 1}] '{out}/stages.dat' using i:xtic(1) title columnheader(i)
"""
try:
    subprocess.run(["gnuplot"], input=gp, text=True, check=True)
except FileNotFoundError:
    print("gnuplot not found: no chart (apt-get install gnuplot-nox)", file=sys.stderr)
print(open(f"{out}/report.md").read())
