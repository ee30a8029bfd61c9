#!/bin/sh
# Gate for weekly-release-notes: the subjects of this week's merges, or skip when none.
log=$(git log --since="7 days ago" --merges --pretty='- %s' 2>/dev/null)
[ -n "$log" ] || { echo "nothing merged this week" >&2; exit 1; }
echo "$log"
