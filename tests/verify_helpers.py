"""Verifiers that misbehave on purpose, imported by pool workers in tests/test_verify_pool.py."""

import time

from distillery.verify.result import VerifyResult


def hang(query, response):
    if response == "hang":
        time.sleep(3600)
    return VerifyResult.of(1.0, "test", "fine")


def crash(query, response):
    raise RuntimeError("boom")
