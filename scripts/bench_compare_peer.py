#!/usr/bin/env python3
"""Numerics check of emgan's pix2pix step against the Python peer.

Builds the peer's networks (unet_256 and patchgan, imported from
../shared/peers/pix2pix_reference.py, which is not modified), loads the initial
weights emgan_bench wrote with `pix2pix-step --save-init DIR` (torch::save archives,
opened with torch.jit.load; parameter names are those of pix2pix's networks.py, the
peer's modules lack only the outer `model.` prefix), draws A and B exactly as
emgan_bench does (torch.manual_seed(seed); A = randn; B = randn), then runs the
peer's step (copied from its main(): D on the detached fake, then G with D frozen;
LSGAN + 100 * L1; Adam 2e-4, betas 0.5/0.999) and prints the losses of each step
in emgan_bench's `--print-losses` format.

With --expect FILE (emgan_bench's output), compares every step's losses and exits
non-zero when one differs by more than --rtol (relative) + --atol.

Usage:
  emgan_bench pix2pix-step --batch 2 --size 256 --warmup 0 --steps 5 --dropout 0 \
      --save-init /tmp/init --print-losses > cpp.txt
  python3 scripts/bench_compare_peer.py --init /tmp/init --batch 2 --size 256 \
      --steps 5 --dropout 0 --expect cpp.txt
"""
import argparse
import importlib.util
import os
import re
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PEER = os.path.join(HERE, "..", "..", "shared", "peers", "pix2pix_reference.py")


def load_peer(path):
    spec = importlib.util.spec_from_file_location("pix2pix_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_weights(net, archive):
    """emgan archive -> peer module; strips the leading 'model.' emgan (and networks.py) has."""
    state = torch.jit.load(archive, map_location="cpu").state_dict()
    renamed = {k[len("model."):] if k.startswith("model.") else k: v for k, v in state.items()}
    net.load_state_dict(renamed, strict=True)


def parse_steps(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^step=(\d+) (.*)$", line.strip())
            if m:
                out[int(m.group(1))] = {k: float(v) for k, v in (kv.split("=") for kv in m.group(2).split())}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", default=DEFAULT_PEER)
    ap.add_argument("--init", required=True, help="folder with G.pt and D.pt from emgan_bench --save-init")
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.5, help="dropout p of the peer's U-Net (its default 0.5)")
    ap.add_argument("--expect", help="emgan_bench output with --print-losses lines")
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    peer = load_peer(a.peer)
    G, D = peer.unet_256(), peer.patchgan()
    load_weights(G, os.path.join(a.init, "G.pt"))
    load_weights(D, os.path.join(a.init, "D.pt"))
    for m in G.modules():
        if isinstance(m, nn.Dropout):
            m.p = a.dropout
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    torch.manual_seed(a.seed)
    A = torch.randn(a.batch, 1, a.size, a.size)
    B = torch.randn(a.batch, 1, a.size, a.size)

    def step():  # the peer's step, plus the loss values
        fake = G(A)
        for p in D.parameters():
            p.requires_grad_(True)
        oD.zero_grad()
        pf = D(torch.cat([A, fake.detach()], 1))
        pr = D(torch.cat([A, B], 1))
        lossD = 0.5 * (mse(pf, torch.zeros_like(pf)) + mse(pr, torch.ones_like(pr)))
        lossD.backward()
        oD.step()
        for p in D.parameters():
            p.requires_grad_(False)
        oG.zero_grad()
        pf = D(torch.cat([A, fake], 1))
        gan, rec = mse(pf, torch.ones_like(pf)), l1(fake, B)
        lossG = gan + 100.0 * rec
        lossG.backward()
        oG.step()
        return {"loss_d": lossD.item(), "loss_g": lossG.item(), "loss_g_gan": gan.item(), "loss_g_rec": rec.item()}

    expected = parse_steps(a.expect) if a.expect else {}
    worst = 0.0
    status = 0
    for i in range(1, a.steps + 1):
        got = step()
        print("step=%d %s" % (i, " ".join("%s=%.9g" % kv for kv in sorted(got.items()))))
        if i in expected:
            for k, v in got.items():
                e = expected[i][k]
                rel = abs(v - e) / max(abs(e), 1e-12)
                worst = max(worst, rel)
                if abs(v - e) > a.atol + a.rtol * abs(e):
                    print("  MISMATCH step %d %s: python %.9g c++ %.9g (rel %.3g)" % (i, k, v, e, rel))
                    status = 1
    if expected:
        missing = [i for i in range(1, a.steps + 1) if i not in expected]
        if missing:
            print("c++ output lacks steps %s" % missing)
            status = 1
        print("compare: steps=%d worst_relative_difference=%.3g rtol=%g atol=%g -> %s"
              % (a.steps, worst, a.rtol, a.atol, "ok" if status == 0 else "MISMATCH"))
    return status


if __name__ == "__main__":
    sys.exit(main())
