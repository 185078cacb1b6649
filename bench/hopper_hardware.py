"""srround.hardware's Hopper wgmma models against a real Hopper GPU, bit for bit.

    python bench/hopper_hardware.py gpu DIR        # on a Hopper GPU with torch and triton
    python bench/hopper_hardware.py compare DIR    # anywhere srround is importable

``gpu`` needs no srround: it draws the inputs (seeded), runs them through Triton
kernels whose inner loop is ``acc = tl.dot(a, b, acc)`` (compiled to wgmma on sm_90:
each k-tile's result is the next tile's C, the order of srround.hardware.matmul) and
through torch._scaled_mm (cuBLASLt, fp8, fast accumulation on and off), and writes
inputs (as their bit patterns) and outputs into DIR/hopper_e4m3.npz and hopper_bf16.npz,
and the versions and the mma instructions found in the kernels' PTX into
DIR/hopper_info.json. ``compare`` runs srround's models on the same
inputs and prints, for every hardware result, how many elements are bit-identical to
each candidate model (no promotion, promotion to binary32 every 32, 64 or 128 terms),
and the error of C = A B the ``tensorcore`` experiment measures, beside the model's.

Cases: "sweep", the tensorcore experiment's data (uniform [0, 1) and standard normal,
rounded to e4m3 or bf16; 64 x K times K x 64, K = 256 ... 16384); "hard", single
instructions and short chains on random bit patterns (every finite e4m3 value; bf16
values over 2^-40 .. 2^40, zeros) with random binary32 addends C, a quarter of them
the negated product, for cancellations.
"""
import json
import os
import re
import sys

import numpy as np

try:   # the gpu side needs triton (and torch, a Hopper GPU); compare needs neither
    import triton
    import triton.language as tl
except ImportError:
    triton = None

SEED = 2026
SWEEP_K = (256, 1024, 4096, 16384)
INSTRUCTION_K = {"e4m3": 32, "bf16": 16}

# ---------------------------------------------------------------- gpu side (no srround)

if triton is not None:
    @triton.jit
    def _chain(a_ptr, b_ptr, c_ptr, d_ptr, K, BK: tl.constexpr, IMPRECISE: tl.constexpr,
               HAS_C: tl.constexpr):
        """One 64 x 64 tile of D = A B + C, A (M, K) and B (K, N) row-major: k-tiles of
        BK in increasing k, each tl.dot's result the next one's accumulator C."""
        rm = tl.program_id(0) * 64 + tl.arange(0, 64)
        rn = tl.program_id(1) * 64 + tl.arange(0, 64)
        rk = tl.arange(0, BK)
        N = 64 * tl.num_programs(1)
        at = rm[:, None] * N + rn[None, :]
        acc = tl.zeros((64, 64), dtype=tl.float32)
        if HAS_C:
            acc = tl.load(c_ptr + at)
        for k in range(0, K, BK):
            a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])
            b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])
            if IMPRECISE == 0:
                acc = tl.dot(a, b, acc)
            else:   # Triton's fp8 promotion: a fresh accumulator every IMPRECISE terms
                acc = tl.dot(a, b, acc, max_num_imprecise_acc=IMPRECISE)
        tl.store(d_ptr + at, acc)


def gpu(folder):
    import torch
    dev = torch.device("cuda")
    instructions, failures = set(), []

    def hardware(A, B, C, k, fp8):
        """name -> float32 D = A B + C of every hardware variant (a failure is recorded
        and the others still run)."""
        out = {}
        # Triton: k-tiles of the instruction's k, or of 128 (several wgmma per tl.dot);
        # max_num_imprecise_acc 0 is Triton's default, 32 promotes every 32 terms
        for BK, imprecise in [(k, 0), (128, 0)] + [(128, 32)] * fp8:
            if A.shape[1] % BK:
                continue
            D = torch.empty(A.shape[0], B.shape[1], device=dev)
            try:
                kernel = _chain[(A.shape[0] // 64, B.shape[1] // 64)](
                    A, B, D if C is None else C, D, A.shape[1], BK=BK, IMPRECISE=imprecise,
                    HAS_C=C is not None, num_warps=4)
                out[f"triton BK={BK} imprecise={imprecise}"] = D.cpu().numpy()
                ptx = getattr(kernel, "asm", {}).get("ptx", "")
                instructions.update(re.findall(r"wgmma\.mma_async\S*|mma\.sync\S*", ptx))
            except Exception as e:   # noqa: BLE001
                failures.append(f"triton BK={BK} imprecise={imprecise}: {e}"[:300])
        if fp8 and C is None:   # cuBLASLt through torch, unit scales
            one = torch.ones((), device=dev)
            for fast in (True, False):
                try:
                    out[f"cublas fast_accum={fast}"] = torch._scaled_mm(
                        A, B.t().contiguous().t(), scale_a=one, scale_b=one,
                        out_dtype=torch.float32, use_fast_accum=fast).cpu().numpy()
                except Exception as e:   # noqa: BLE001
                    failures.append(f"cublas fast_accum={fast}: {e}"[:300])
        return out

    for etype, dtype, bits in (("e4m3", torch.float8_e4m3fn, torch.int8),
                               ("bf16", torch.bfloat16, torch.int16)):
        k, fp8, cases = INSTRUCTION_K[etype], etype == "e4m3", {}
        for d, dist in enumerate(("uniform", "normal")):   # the tensorcore experiment's data
            for K in SWEEP_K:
                rng = np.random.default_rng([SEED, d, K])
                draw = rng.random if d == 0 else rng.standard_normal
                cases[f"sweep/{dist}/{K}"] = draw((64, K)), draw((K, 64)), None
        # random bit patterns: every finite e4m3 value (NaN codes made 0), or bf16 over
        # 2^-40 .. 2^40 with 5% zeros; C zero, or binary32 of wide exponents with 10%
        # zeros and a quarter of its rows the negated product (cancellation)
        for K in (k, 256):
            for case in range(3):
                rng = np.random.default_rng([SEED, 2, K, case])
                A, B = (np.nan_to_num(torch.from_numpy(rng.integers(0, 256, s, dtype=np.uint8))
                                      .view(dtype).double().numpy()) if fp8 else
                        (1 + rng.integers(0, 128, s) / 128) * 2.0**rng.integers(-40, 41, s)
                        * rng.choice([-1, 1], s) * (rng.random(s) > 0.05)
                        for s in ((64, K), (K, 64)))
                C = None
                if case:
                    C = (rng.standard_normal((64, 64)) * 2.0**rng.integers(-30, 20, (64, 64))
                         * (rng.random((64, 64)) > 0.1)).astype(np.float32)
                cases[f"hard/{case}/{K}"] = A, B, C
        saved = {}
        for key, (A, B, C) in cases.items():
            A, B = (torch.from_numpy(X.astype(np.float32)).to(dev).to(dtype) for X in (A, B))
            saved[f"{key}/A"], saved[f"{key}/B"] = (X.view(bits).cpu().numpy() for X in (A, B))
            if C is not None:
                C[:16] = -(A[:16].double() @ B.double()).cpu().numpy()
                saved[f"{key}/C"] = C
                C = torch.from_numpy(C).to(dev)
            for name, D in hardware(A, B, C, k, fp8).items():
                saved[f"{key}/D/{name}"] = D
        np.savez_compressed(os.path.join(folder, f"hopper_{etype}.npz"), **saved)
    with open(os.path.join(folder, "hopper_info.json"), "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                   "triton": triton.__version__, "instructions": sorted(instructions),
                   "failures": failures}, f, indent=1)
    print(f"wrote {folder}/hopper_e4m3.npz, hopper_bf16.npz, hopper_info.json; "
          f"{len(failures)} failures")


# ---------------------------------------------------------------- compare (srround)

def compare(folder):
    import ml_dtypes

    from srround import hardware as hw
    from srround.hardware.study import exact_matmul

    with open(os.path.join(folder, "hopper_info.json")) as f:
        info = json.load(f)
    print(f"{info['device']}, torch {info['torch']}, triton {info['triton']}")
    print("instructions in the Triton kernels' PTX:", ", ".join(info["instructions"]))
    for failure in info["failures"]:
        print("failed on the GPU:", failure)
    views = {"e4m3": (ml_dtypes.float8_e4m3fn, np.uint8, 4),
             "bf16": (ml_dtypes.bfloat16, np.uint16, 8)}
    summary = {"info": info, "bit_identical": {}, "errors": {}}
    for etype, (view, bits, precision) in views.items():
        data = np.load(os.path.join(folder, f"hopper_{etype}.npz"))
        op = hw.WGMMA("Hopper", f"m64n64k{INSTRUCTION_K[etype]}.f32.{etype}.{etype}")
        print(f"\n== {etype}: srround model {op!r}: {op.arithmetic}")
        groups = sorted({key.rsplit("/D/", 1)[0] for key in data.files if "/D/" in key})
        print(f"{'case':<22} {'hardware':<30} {'elements':>8}  bit-identical to srround's "
              "model: no promotion / promoted every 32, 64, 128")
        for group in groups:
            A = data[f"{group}/A"].view(bits).view(view).astype(np.float64)
            B = data[f"{group}/B"].view(bits).view(view).astype(np.float64)
            C = data[f"{group}/C"] if f"{group}/C" in data.files else None
            K = A.shape[1]
            models = {"none": hw.matmul(A, B, op, C=C)}
            for every in (32, 64, 128):
                if every % op.k == 0 and every <= K:
                    models[str(every)] = hw.matmul(A, B, op, C=C, promote_every=every)
            exact = magnitude = None
            if group.startswith("sweep"):
                exact = exact_matmul(A, B, precision)
                magnitude = exact_matmul(np.abs(A), np.abs(B), precision)
            for key in [k for k in data.files if k.startswith(group + "/D/")]:
                name = key.rsplit("/D/", 1)[1]
                D = data[key]
                same = {m: int(np.sum(_same_bits(D, R))) for m, R in models.items()}
                summary["bit_identical"][f"{etype} {group} {name}"] = {"elements": D.size, **same}
                print(f"{group:<22} {name:<30} {D.size:>8}  " +
                      " / ".join(f"{same.get(m, '-')}" for m in ("none", "32", "64", "128")))
                if exact is not None:
                    summary["errors"][f"{etype} {group} {name}"] = _max_error(D, exact, magnitude)
            if exact is not None:
                for m, R in models.items():
                    summary["errors"][f"{etype} {group} srround promote={m}"] = \
                        _max_error(R, exact, magnitude)
    print("\nmax |D - AB| / (|A| |B|) on the sweep (the tensorcore experiment's error):")
    for key, value in summary["errors"].items():
        print(f"  {key:<60} {value:.3e}")
    with open(os.path.join(folder, "hopper_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


def _same_bits(D, R):
    D, R = np.asarray(D, np.float32), np.asarray(R, np.float32)
    return (D.view(np.uint32) == R.view(np.uint32)) | (np.isnan(D) & np.isnan(R))


def _max_error(D, exact, magnitude):
    error = np.abs(np.asarray(D, np.float64) - exact)
    return float(np.max(np.divide(error, magnitude, out=np.zeros_like(error),
                                  where=magnitude > 0)))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("gpu", "compare"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    (gpu if sys.argv[1] == "gpu" else compare)(sys.argv[2])
