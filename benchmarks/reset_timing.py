"""Does a password-reset request take longer for an address that has an account? (issue 9)

    .venv/bin/python benchmarks/reset_timing.py [--requests 300] [--rounds 3]

Fresh database `et_bench_reset` with one account; the reset request for that address and for an
unknown one, alternately in rounds, through Django's test client in this process (the broker is
Redis db 14, flushed afterwards; no worker runs, so no mail is sent). Prints median and p90 per
round: an attacker timing the endpoint should see no difference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from harness import ROOT, bench_env, fresh_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    env = {**bench_env("et_bench_reset"), "THROTTLE_PASSWORD_RESET": "100000000/min"}
    fresh_database("et_bench_reset", env)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import Client

    from apps.accounts.models import User

    User.objects.create_user(email="known@example.com", password="x-bench-password-1")
    client = Client(HTTP_HOST="127.0.0.1")

    def timings(email: str, count: int) -> list[float]:
        out = []
        for _ in range(count):
            start = time.perf_counter()
            response = client.post(
                "/api/v1/auth/password/reset",
                json.dumps({"email": email}),
                content_type="application/json",
            )
            out.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 202, response.content
        return out

    timings("known@example.com", 30)
    timings("nobody@example.com", 30)
    p90 = int(args.requests * 0.9) - 1
    for round_ in range(1, args.rounds + 1):
        known = sorted(timings("known@example.com", args.requests))
        unknown = sorted(timings("nobody@example.com", args.requests))
        print(
            f"round {round_}: known median {statistics.median(known):.3f} ms, p90 "
            f"{known[p90]:.3f} ms; unknown median {statistics.median(unknown):.3f} ms, p90 "
            f"{unknown[p90]:.3f} ms"
        )
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)


if __name__ == "__main__":
    main()
