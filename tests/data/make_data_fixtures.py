"""Reference values for the data-layer tests (tests/data/*.cpp), written to
tests/data/data_fixtures.json.

The references come from code independent of radgal: Python's own pickle module reads the
release batches, numpy computes the sigma-clipped statistics the way astropy's
sigma_clipped_stats defines them (median centre, ddof-0 standard deviation, 3 sigma, up to
5 passes or until nothing changes), and numpy runs the MiraBest preparation on a synthetic
cutout whose float32 pixels both sides compute with the same integer formula.

Run from the repository root:  python3 tests/data/make_data_fixtures.py
"""
import hashlib
import json
import pickle
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


def sigma_clipped(values, sigma=3.0, maxiters=5):
    data = np.asarray(values, dtype=np.float64)
    iterations = 0
    while iterations < maxiters:
        iterations += 1
        centre = np.median(data)
        std = data.std()
        kept = data[(data >= centre - sigma * std) & (data <= centre + sigma * std)]
        changed = data.size - kept.size
        data = kept
        if changed == 0:
            break
    return {"mean": float(data.mean()), "median": float(np.median(data)),
            "stddev": float(data.std()), "count": int(data.size), "iterations": iterations}


def clip_input():
    """2000 noise-like float32 values plus a few bright "sources" the clipping must drop:
    value i = float32((i * 7919) % 1001 - 500) * 2e-6, except 0.05 at every 97th value
    (i = 0, 97, ...) and -0.02 at i = 5.
    """
    i = np.arange(2000, dtype=np.int64)
    noise = ((i * 7919) % 1001 - 500).astype(np.float32) * np.float32(2e-6)
    noise[::97] = np.float32(0.05)
    noise[5] = np.float32(-0.02)
    return noise


def synthetic_cutout():
    """300 x 300 float32 image: integer-hash noise and a bright ring plus a core.

    Pixel (y, x) = float32(((y * 300 + x) * 2654435761) % 2001 - 1000) * 1e-6
    plus 0.004 + 1e-5 * float32(x + y) where 20 <= distance from (150, 150) < 40
    plus 0.02 where distance < 4; row 0 is the first row stored.
    """
    y, x = np.mgrid[0:300, 0:300].astype(np.int64)
    k = ((y * 300 + x) * 2654435761) % 2001 - 1000
    img = k.astype(np.float32) * np.float32(1e-6)
    d2 = (x - 150) ** 2 + (y - 150) ** 2
    ring = (d2 >= 400) & (d2 < 1600)
    img[ring] += np.float32(0.004) + np.float32(1e-5) * (x + y)[ring].astype(np.float32)
    img[d2 < 16] += np.float32(0.02)
    return img


def prepare(img):
    img = img.copy()
    img[np.isnan(img)] = 0
    rms = sigma_clipped(img.ravel())["stddev"]
    img[img <= 3 * rms] = 0
    crop = img[75:225, 75:225]
    lo, hi = crop.min(), crop.max()
    scaled = (crop - lo) / (hi - lo)
    scaled *= np.float32(255.0)
    return np.clip(scaled, 0, 255).astype(np.uint8), rms


def batch_reference():
    out = {}
    for name, folder in (("mirabest", SHARED / "mirabest" / "batches"),
                         ("frdeep", SHARED / "frdeep-f" / "batches")):
        with open(folder / "test_batch", "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        picks = [0, 1, len(batch["labels"]) - 1]
        out[name] = {
            "count": len(batch["labels"]),
            "images": [{"index": j,
                        "label": int(batch["labels"][j]),
                        "filename": str(batch["filenames"][j]),
                        "pixel_sum": int(np.asarray(batch["data"][j], dtype=np.int64).sum()),
                        "md5": hashlib.md5(np.asarray(batch["data"][j]).tobytes()).hexdigest()}
                       for j in picks],
        }
    return out


class RunsCommand:
    """Pickles as a call of os.system; pickle.dumps only records the call, it runs nothing."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os
        return (os.system, (self.command,))


class RunsEval:
    def __reduce__(self):
        return (eval, ("print('pwned')",))


def mini_batch(shape=(150, 150), labels=(1, 0)):
    rng = np.random.default_rng(7)
    data = []
    for _ in labels:
        a = np.zeros(int(np.prod(shape)), dtype=np.uint8)
        a[rng.integers(0, a.size, 40)] = rng.integers(1, 256, 40)
        data.append(a.reshape(shape))
    return {"batch_label": "testing batch 1 of 1",
            "labels": [np.int64(labels[0])] + list(labels[1:]),
            "data": data,
            "filenames": [np.str_("./MiraBest_data/100_188.320+019.481_0.2282_0049.17.png")]
                         + ["b\u00e9.png"] * (len(labels) - 1)}


def packed(data):
    """A pickle as zlib-compressed hex (the 150 x 150 images are mostly zeros) and its size."""
    return {"zhex": zlib.compress(data, 9).hex(), "size": len(data)}


def pickle_cases():
    """Small pickles for the restricted reader, with what each must give."""
    cases = {"proto2_bytes": packed(pickle.dumps({"a": b"\x00\xff\x10"}, protocol=2))}
    fortran = np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3))
    cases["fortran_array"] = {**packed(pickle.dumps(fortran, protocol=2)),
                              "c_order": list(range(6))}
    for protocol in (2, 3, 4):
        batch = mini_batch()
        cases[f"batch_protocol{protocol}"] = {
            **packed(pickle.dumps(batch, protocol=protocol)),
            "labels": [int(v) for v in batch["labels"]],
            "filenames": [str(v) for v in batch["filenames"]],
            "pixel_sums": [int(a.astype(np.int64).sum()) for a in batch["data"]]}
    cases["batch_flat_images"] = packed(pickle.dumps(mini_batch(shape=(22500,)), protocol=2))
    cases["batch_bad_shape"] = packed(pickle.dumps(mini_batch(shape=(100, 100)), protocol=2))
    cases["batch_bad_label"] = packed(pickle.dumps(mini_batch(labels=(1, 12)), protocol=2))
    cases["object_array"] = packed(pickle.dumps(np.array([1, "a"], dtype=object), protocol=2))
    cases["float_array"] = packed(pickle.dumps(np.array([1.5, -2.0], dtype="<f8"), protocol=2))
    marker = "/tmp/radgal_pickle_test_must_not_exist"
    for protocol in (2, 4):
        command = pickle.dumps(RunsCommand("touch " + marker), protocol=protocol)
        cases[f"runs_command_protocol{protocol}"] = {**packed(command), "marker": marker}
    cases["runs_eval"] = packed(pickle.dumps(RunsEval(), protocol=2))
    return cases


def main():
    values = clip_input()
    img = synthetic_cutout()
    prepared, rms = prepare(img)
    fixtures = {
        "sigma_clip": sigma_clipped(values),
        "synthetic_prepare": {
            "noise_stddev": float(rms),
            "md5": hashlib.md5(prepared.tobytes()).hexdigest(),
            "nonzero": int((prepared > 0).sum()),
            "pixels": [{"y": int(yy), "x": int(xx), "value": int(prepared[yy, xx])}
                       for yy, xx in ((75, 75), (75, 95), (60, 100), (100, 60), (0, 0), (77, 75))],
        },
        "batches": batch_reference(),
        "pickles": pickle_cases(),
    }
    out = Path(__file__).with_name("data_fixtures.json")
    out.write_text(json.dumps(fixtures, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
