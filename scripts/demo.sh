#!/bin/sh
# The demo, for those who look for it here: the same as `make demo`.
cd "$(dirname "$0")/.." && exec make demo
