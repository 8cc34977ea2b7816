#!/usr/bin/env python3
"""Side-by-side speed of radgal's AG-CNN and the same network in PyTorch, on this CPU.

Builds the attention-gated CNN (conv -> batch norm -> ReLU backbone, three grid-attention gates,
range_norm, ft aggregation: 101,447 parameters) in PyTorch, times training steps (forward,
cross-entropy, backward, Adam step) and inference at batch 16 with torch.set_num_threads(N),
then runs radgal's bench_training program with the same thread count and prints both.

PyTorch is only needed to run this script; nothing in radgal builds or tests against it.

  python3 bench/compare_pytorch.py --radgal-bench build/bench/bench_training --threads 2
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- the network ------------------------------------------------------------------------------

def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


def normalise_attention(psi, mode):
    n = psi.shape[0]
    if mode == "sigmoid":
        return torch.sigmoid(psi)
    if mode == "softmax":
        return F.softmax(psi.reshape(n, -1), dim=1).reshape(psi.shape)
    if mode == "range_norm":  # min and max over the whole batch tensor, as published
        lo, hi = psi.min(), psi.max()
        return (psi - lo) / (hi - lo)
    if mode == "std_mean_norm":
        lo, hi = psi.min(), psi.max()
        return ((psi - lo) / hi - 0.5) / 0.25
    if mode == "tanh":
        return torch.tanh(psi)
    raise ValueError(mode)


class AttentionGate(nn.Module):
    def __init__(self, x_channels, norm, g_channels=64, inter=64):
        super().__init__()
        self.theta = nn.Conv2d(x_channels, inter, 1, bias=False)
        self.phi = nn.Conv2d(g_channels, inter, 1, bias=False)
        self.psi = nn.Conv2d(inter, 1, 1, bias=True)
        self.norm = norm

    def forward(self, x, g):
        h, w = x.shape[2:]
        phi = F.interpolate(self.phi(g), size=(h, w), mode="bilinear", align_corners=False)
        f = F.relu(self.theta(x) + phi)
        alpha = normalise_attention(self.psi(f), self.norm)
        return alpha * x, alpha


class AGCNN(nn.Module):
    """Returns logits (N, 2); index 0 = FRI."""

    def __init__(self, norm="range_norm", aggregation="ft", dropout=0.5):
        super().__init__()
        chans = [(1, 6), (6, 6), (6, 6), (6, 16), (16, 16), (16, 16), (16, 32), (32, 32), (32, 32),
                 (32, 64), (64, 64)]
        self.convs = nn.ModuleList([conv_bn_relu(a, b) for a, b in chans])
        self.attention1 = AttentionGate(32, norm)
        self.attention2 = AttentionGate(16, norm)
        self.attention3 = AttentionGate(6, norm)
        self.dropout = nn.Dropout(dropout)
        self.aggregation = aggregation
        self.classifiers = nn.ModuleList([nn.Linear(32, 2), nn.Linear(16, 2), nn.Linear(6, 2)])
        if aggregation == "ft":
            self.classifier = nn.Linear(6, 2)
        elif aggregation in ("concat", "deep_sup"):
            self.classifier = nn.Linear(54, 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
        for gate in (self.attention1, self.attention2, self.attention3):
            nn.init.constant_(gate.psi.bias, 10.0)

    def forward(self, x, return_attention=False):
        c = self.convs
        x = c[2](c[1](c[0](x)))
        x3 = x
        x = c[5](c[4](c[3](F.max_pool2d(x, 2))))
        x2 = x
        x = c[8](c[7](c[6](F.max_pool2d(x, 2))))
        x1 = x
        g = c[10](c[9](F.max_pool2d(x, 2)))
        y1, a1 = self.attention1(x1, g)
        y2, a2 = self.attention2(x2, g)
        y3, a3 = self.attention3(x3, g)
        g1 = self.dropout(y1.sum(dim=(2, 3)))
        g2 = self.dropout(y2.sum(dim=(2, 3)))
        g3 = self.dropout(y3.sum(dim=(2, 3)))
        heads = [self.classifiers[0](g1), self.classifiers[1](g2), self.classifiers[2](g3)]
        if self.aggregation == "ft":
            z = self.classifier(torch.cat([F.relu(h) for h in heads], dim=1))
        elif self.aggregation == "concat":
            z = self.classifier(torch.cat([g1, g2, g3], dim=1))
        elif self.aggregation == "mean":
            z = torch.stack(heads).mean(0)
        else:  # deep_sup
            z = torch.stack(heads + [self.classifier(torch.cat([g1, g2, g3], dim=1))]).mean(0)
        return (z, (a1, a2, a3)) if return_attention else z


# ---- timing -----------------------------------------------------------------------------------

def fake_batch(n, side=150, seed=1):
    """Sparse images like MiraBest's: background -1 with a few bright blobs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 1, side, side), -1.0)
    for i in range(n):
        for _ in range(3):
            cx, cy = (40 + torch.randint(0, 70, (2,), generator=g)).tolist()
            x[i, 0, cy - 6:cy + 7, cx - 6:cx + 7] = torch.rand(13, 13, generator=g)
    return x


def time_pytorch(norm, batch, seconds):
    """Images per second of training steps and of evaluation-mode forward passes."""
    torch.manual_seed(0)
    model = AGCNN(norm=norm)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x = fake_batch(batch)
    y = torch.arange(batch) % 2

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            model(x)

    out = {}
    for name, fn, mode in (("train", train_step, model.train), ("inference", infer, model.eval)):
        mode()
        fn()  # warm-up
        n, start = 0, time.perf_counter()
        cpu_start = time.process_time()
        while time.perf_counter() - start < seconds or n < 2:
            fn()
            n += 1
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        out[name] = dict(img_per_s=n * batch / wall, img_per_cpu_s=n * batch / cpu)
    return out


def time_radgal(binary, norm, batch, threads, seconds):
    """Runs bench_training and picks its train_step and inference results for this network."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    res = subprocess.run([binary, "--benchmark_format=json", f"--benchmark_min_time={seconds}",
                          f"--benchmark_filter=agcnn_{norm}/{batch}/"],
                         env=env, check=True, capture_output=True, text=True)
    out = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        kind = "train" if b["name"].startswith("train_step") else "inference"
        out[kind] = dict(img_per_s=b["img_per_s"], img_per_cpu_s=b["img_per_cpu_s"])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--radgal-bench", default="build/bench/bench_training",
                   help="path of radgal's bench_training program")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--norm", default="range_norm", choices=["range_norm", "softmax"])
    p.add_argument("--seconds", type=float, default=10.0, help="minimum time per measurement")
    p.add_argument("--json", help="also write the numbers to this file")
    a = p.parse_args()
    if not os.path.exists(a.radgal_bench):
        sys.exit(f"{a.radgal_bench}: not found; build the bench_training target first")

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    # Alternate the two so a change in machine load hits both alike.
    ours = time_radgal(a.radgal_bench, a.norm, a.batch, a.threads, a.seconds)
    theirs = time_pytorch(a.norm, a.batch, a.seconds)

    print(f"AG-CNN ({a.norm}, ft, 3 gates), 150x150, batch {a.batch}, {a.threads} threads, "
          f"torch {torch.__version__}")
    print(f"{'':<12}{'radgal img/s':>14}{'torch img/s':>14}{'ratio':>8}"
          f"{'radgal img/cpu-s':>18}{'torch img/cpu-s':>17}")
    for kind in ("train", "inference"):
        r, t = ours[kind], theirs[kind]
        print(f"{kind:<12}{r['img_per_s']:>14.1f}{t['img_per_s']:>14.1f}"
              f"{r['img_per_s'] / t['img_per_s']:>8.2f}"
              f"{r['img_per_cpu_s']:>18.1f}{t['img_per_cpu_s']:>17.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(radgal=ours, torch=theirs, torch_version=torch.__version__,
                           threads=a.threads, batch=a.batch, norm=a.norm), f, indent=1)


if __name__ == "__main__":
    main()
