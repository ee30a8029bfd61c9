#!/bin/sh
# Pre-run gate: runs the agent only when there is "new mail" (about one tick in four).
# exit 0 + stdout: run, with stdout appended to the prompt; non-zero: skip, stderr = reason.
n=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
if [ $((n % 4)) -eq 0 ]; then
  echo "From: alice@example.com  Subject: invoice overdue"
  echo "From: bob@example.com    Subject: lunch?"
  exit 0
fi
echo "no new mail since the last check" >&2
exit 1
