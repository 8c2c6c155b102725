#!/usr/bin/env python3
"""The boto3 peer of the scenario benchmark: what an operator would write
without the tool. It resets every user of a CSV (header `username`) with
AdminResetUserPassword from a pool of threads sharing one client (boto3
clients are thread-safe), with botocore's own retries, and prints one JSON
line: users, succeeded, failed (by code), elapsed seconds.

It keeps no ledger and no rate limit: it is the speed a plain script gets
against the same server, not a resumable job.

Usage: boto3_reset.py --endpoint-url URL --user-pool-id ID --input users.csv
                      [--threads 16] [--retry-mode standard|adaptive|legacy]
                      [--max-attempts 8]
"""

import argparse
import csv
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--user-pool-id", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--retry-mode", default="standard",
                   choices=["standard", "adaptive", "legacy"])
    p.add_argument("--max-attempts", type=int, default=8)
    args = p.parse_args()

    with open(args.input, newline="") as f:
        users = [row["username"] for row in csv.DictReader(f)]

    region = args.user_pool_id.split("_", 1)[0]
    client = boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=args.endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"mode": args.retry_mode, "max_attempts": args.max_attempts},
            max_pool_connections=args.threads,
        ),
    )

    def reset(username: str) -> str:
        try:
            client.admin_reset_user_password(
                UserPoolId=args.user_pool_id, Username=username)
            return "ok"
        except ClientError as e:
            return e.response.get("Error", {}).get("Code", "ClientError")
        except BotoCoreError as e:
            return type(e).__name__

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        results = Counter(pool.map(reset, users))
    elapsed = time.monotonic() - start

    succeeded = results.pop("ok", 0)
    json.dump({
        "users": len(users),
        "succeeded": succeeded,
        "failed": dict(results),
        "elapsed_secs": elapsed,
    }, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
