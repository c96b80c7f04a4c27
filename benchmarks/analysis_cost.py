"""Cost of the attention diagnostics against a plain forward of the same model and length.

Each case runs in its own process after loading the model; its memory is the rise of the
peak over what was in use before it ran: peak resident memory on the CPU (Linux; the peak
is reset through ``/proc/self/clear_refs``), ``torch.cuda.max_memory_allocated`` on a GPU. Time is the median of
``--repeats`` runs after one warm-up. Cases at ``--length`` tokens:

- ``forward``: the model's plain forward (hidden states, no vocabulary logits): the reference;
- ``capture``: the same forward keeping rotated q at ``--queries`` positions and every key;
- ``positional``: capture, then positional-head scores over ``--keys`` sampled keys;
- ``contributions``: capture, then the per-layer pair-contribution profile;
- ``entropy``: capture at 16 queries, then their attention rows and entropies in every layer.

What a user would otherwise do, ``output_attentions=True`` with eager attention, holds every
L x L map (layers x heads x L^2 floats); its size is reported, computed, not run.

    python benchmarks/analysis_cost.py --out benchmarks/results/analysis_cost-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from common import device, median_seconds

from videorope.analysis import attention_rows, capture, contribution_profile, entropy, positional_scores
from videorope.io import write_json
from videorope.models import load_model, load_text_config
from videorope.perplexity import text_ids

CASES = ("forward", "capture", "positional", "contributions", "entropy")


def _reset_peak() -> int:
    """Restart peak tracking; returns the memory in use now (the baseline)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    with open("/proc/self/clear_refs", "w") as f:  # Linux: resets the peak resident size (VmHWM)
        f.write("5")
    return _status_bytes("VmRSS")


def _peak() -> int:
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else _status_bytes("VmHWM")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024  # kB


def run_case(case: str, model_name: str, length: int, queries: int, keys: int, repeats: int) -> dict[str, float]:
    """Time and peak memory of one case, in this process."""
    model, tokenizer = load_model(model_name, attn_implementation="sdpa")
    model.eval().to("cuda" if torch.cuda.is_available() else "cpu")
    ids = text_ids(tokenizer, None, length)

    def entropies():
        cap = capture(model, ids, 16)
        return [entropy(attention_rows(cap, layer)) for layer in range(len(cap.q))]

    fns = {
        "forward": lambda: model.base_model(input_ids=ids[None].to(model.device), use_cache=False),
        "capture": lambda: capture(model, ids, queries),
        "positional": lambda: positional_scores(capture(model, ids, queries), keys),
        "contributions": lambda: contribution_profile(capture(model, ids, queries), keys),
        "entropy": entropies,
    }
    baseline = _reset_peak()
    with torch.no_grad():
        fns[case]()
        peak = _peak() - baseline
        seconds = median_seconds({case: fns[case]}, repeats, warmup=0)[case]
    return {"seconds": seconds, "peak_bytes": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2", help="smollm2 (default) or a local causal LM folder")
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--keys", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # one case, in a child process
    parser.add_argument("--out", default="benchmarks/results/analysis_cost-cpu.json")
    args = parser.parse_args()
    settings = ["--model", args.model, "--length", str(args.length), "--queries", str(args.queries),
                "--keys", str(args.keys), "--repeats", str(args.repeats)]  # fmt: skip
    if args.case:
        result = run_case(args.case, args.model, args.length, args.queries, args.keys, args.repeats)
        print(json.dumps(result))
        return
    cases = {}
    for case in CASES:
        started = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, *settings, "--case", case], check=True,
                               capture_output=True, text=True)  # fmt: skip
        cases[case] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{case}: {cases[case]} ({time.perf_counter() - started:.0f} s with loading)", file=sys.stderr)
    config = load_text_config(args.model)
    maps = config.num_hidden_layers * config.num_attention_heads * args.length**2 * 4
    forward = cases["forward"]
    result = {
        "device": device(),
        "load_average": os.getloadavg()[0],
        "model": args.model,
        "length": args.length,
        "queries": args.queries,
        "keys": args.keys,
        "cases": cases,
        "time_over_forward": {c: r["seconds"] / forward["seconds"] for c, r in cases.items()},
        "memory_over_forward": {c: r["peak_bytes"] / max(forward["peak_bytes"], 1) for c, r in cases.items()},
        "output_attentions_maps_bytes": maps,
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
