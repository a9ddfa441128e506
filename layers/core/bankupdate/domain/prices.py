"""The AWS list prices the running system decides by (eu-central-1, on demand, US dollars): where a poll gap is
waited depends on them (``domain.backoff.LoopCost``). Their one home; ``bench/pricing.py`` prices everything else and
takes these from here. Source: https://aws.amazon.com/step-functions/pricing/ (check before quoting a figure)."""

from __future__ import annotations

STANDARD_TRANSITION_USD = 0.025 / 1000  # Standard workflow: per state transition (retries count)
EXPRESS_REQUEST_USD = 1.00 / 1e6  # Express workflow: per execution started
EXPRESS_GB_SECOND_USD = 0.06 / 3600  # Express workflow: per GB-second, first 1,000 GB-hours a month
# Express bills memory in 64 MB steps from the execution's state size; a poll loop's state is a few KB.
EXPRESS_MIN_MEMORY_GB = 64 / 1024
