"""Time XTS against raw AES-ECB of the same bytes, in one run, and print the ratios.

Targets (issue #3, 2-core machine class): one 64-byte line <= 3x one ECB call of 64 bytes;
many lines in one batched call <= 12x the batched-ECB floor (the cost of one ECB call over
all the bytes). Ratios, not absolute times, are what carry over between machines.

One long data unit (``xts_encrypt`` of 1 MiB, hardening issue): under 50 ms, and 16x the data
costs about 16x the time (the old tweak stream was quadratic: 16-18 s for 1 MiB).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
from Crypto.Cipher import AES

from mktme_lite.xts import XTSCipher, xts_decrypt, xts_encrypt


def _best_per_call(fn, number: int, repeat: int = 7) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return min(runs), statistics.median(runs)


def main() -> dict:
    key1, key2 = os.urandom(16), os.urandom(16)
    ecb = AES.new(key1, AES.MODE_ECB)
    xts = XTSCipher(key1, key2)
    line = os.urandom(64)

    ecb_line, _ = _best_per_call(lambda: ecb.encrypt(line), 20000)
    xts_line, _ = _best_per_call(lambda: xts.encrypt(0x1000, line), 20000)

    n = 1024  # a 64 KiB DRAM dump
    lines = os.urandom(64 * n)
    tweaks = np.arange(n, dtype=np.uint64) * 64  # what a DRAM dump passes
    ecb_batch, _ = _best_per_call(lambda: ecb.encrypt(lines), 300)
    xts_batch, _ = _best_per_call(lambda: xts.encrypt_lines(tweaks, lines), 100)
    xts_loop, _ = _best_per_call(
        lambda: [xts.encrypt(int(t), lines[i * 64 : i * 64 + 64]) for i, t in enumerate(tweaks)], 5
    )

    mib = os.urandom(1 << 20)
    sixteenth = mib[: len(mib) // 16]
    unit_enc, _ = _best_per_call(lambda: xts_encrypt(key1, key2, 7, mib), 3)
    unit_dec, _ = _best_per_call(lambda: xts_decrypt(key1, key2, 7, mib), 3)
    unit_small, _ = _best_per_call(lambda: xts_encrypt(key1, key2, 7, sixteenth), 20)

    r_line = xts_line / ecb_line
    r_batch = xts_batch / ecb_batch
    print(f"one 64-byte line : ECB {ecb_line * 1e6:6.2f} us   XTS {xts_line * 1e6:6.2f} us   ratio {r_line:5.2f}x  (target <= 3x)")
    print(f"{n} lines batched: ECB {ecb_batch * 1e6:6.1f} us   XTS {xts_batch * 1e6:6.1f} us   ratio {r_batch:5.2f}x  (target <= 12x)")
    print(f"{n} lines one by one: {xts_loop * 1e3:.2f} ms  ({xts_loop / xts_batch:.0f}x the batched path)")
    verdict = "ok" if max(unit_enc, unit_dec) < 0.050 else "OVER the 50 ms target"
    print(f"one 1 MiB data unit: encrypt {unit_enc * 1e3:.1f} ms, decrypt {unit_dec * 1e3:.1f} ms  (target < 50 ms) "
          f"{verdict}; 16x the data of a 64 KiB unit costs {unit_enc / unit_small:.1f}x the time")
    return {"line_ratio": r_line, "batch_ratio": r_batch, "unit_1mib_encrypt_ms": unit_enc * 1e3,
            "unit_1mib_decrypt_ms": unit_dec * 1e3, "unit_scaling_16x": unit_enc / unit_small}


if __name__ == "__main__":
    main()
