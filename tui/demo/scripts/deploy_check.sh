#!/bin/sh
# Always fails: shows failure toasts, the failing status and exit codes in history.
echo "checking https://staging.example.invalid/health"
sleep 1
echo "attempt 1: connection refused" >&2
sleep 1
echo "attempt 2: connection refused" >&2
echo "health check failed: staging is down" >&2
exit 2
