#!/usr/bin/python3
"""Reference SSIM values for tests/metrics/test_image_metrics.cpp (provenance).

Computed with scikit-image's structural_similarity exactly as the C++ test calls
emgan::metrics::ssim: Gaussian weights, sigma 1.5, population covariance, explicit
data_range, images as float64. Run from anywhere:

    /usr/bin/python3 tests/metrics/ssim_reference.py [path/to/shared/data]

Debian 12: python3-skimage 0.19.3, python3-scipy 1.10.1, python3-numpy 1.24.2,
python3-tifffile 20230203.
"""
import os
import sys

import numpy as np
import skimage
import tifffile
from skimage.metrics import structural_similarity

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def tif(rel):
    return tifffile.imread(os.path.join(DATA, rel)).astype(np.float64)


def txt(rel):
    return np.loadtxt(os.path.join(DATA, rel), dtype=np.float64)


def minmax(a):
    return (a - a.min()) / (a.max() - a.min())


def ssim(pred, target, data_range):
    return structural_similarity(pred, target, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=data_range)


cases = []

# 1. A multislice image against a deterministic perturbation of itself:
#    pred = 0.9 * roll(target, (1, 2), axes (0, 1)) + 0.002; data_range = target max - min.
rel = "stem-conv2multislice/Pt-Mo5/Pt-Mo_multislice/pt_mo5_0_cl160mm_ss.tif"
t = tif(rel)
p = 0.9 * np.roll(t, (1, 2), axis=(0, 1)) + 0.002
cases.append(("perturbed " + rel, ssim(p, t, t.max() - t.min()), t.max() - t.min()))

# 2. A real pair: convolution (input) against multislice (target), each min-max scaled
#    to [0, 1]; data_range = 1.
conv = minmax(txt("stem-conv2multislice/Pt/Pt_convolution/Pt_convolution_3.txt"))
ms = minmax(tif("stem-conv2multislice/Pt/Pt_multislice_16_phonons/Pt_3_cl160mm_ss.tif"))
cases.append(("Pt_convolution_3.txt vs Pt_3_cl160mm_ss.tif (min-max)", ssim(conv, ms, 1.0), 1.0))

# 3.-4. Partial scans against their full scans, both in [0, 1]; data_range = 1.
for n in (1, 2):
    truth = tif("partial-stem-examples/truth-%d.tif" % n)
    part = tif("partial-stem-examples/partial_scan-%d.tif" % n)
    cases.append(("partial_scan-%d.tif vs truth-%d.tif" % (n, n), ssim(part, truth, 1.0), 1.0))

print("skimage", skimage.__version__)
for name, value, data_range in cases:
    print("%-60s data_range=%.17g ssim=%.17g" % (name, data_range, value))
