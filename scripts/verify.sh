#!/bin/sh
# Lint and the whole test suite: the same as `make lint test`.
cd "$(dirname "$0")/.." && exec make lint test
