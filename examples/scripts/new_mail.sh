#!/bin/sh
# Gate for inbox-watch: print new mail (it becomes the prompt's {context}) and exit 0, or
# exit 1 with a reason on stderr when there is nothing new (the slot is skipped, no tokens).
# Reads a Maildir; set MAILDIR to yours. Remembers what it has shown in a marker file.
maildir="${MAILDIR:-$HOME/Maildir}"
marker="${XDG_STATE_HOME:-$HOME/.local/state}/crondeck-inbox-marker"
mkdir -p "$(dirname "$marker")"
[ -d "$maildir/new" ] || { echo "no Maildir at $maildir" >&2; exit 1; }
if [ -f "$marker" ]; then
    new=$(find "$maildir/new" -type f -newer "$marker" | head -n 20)
else
    new=$(find "$maildir/new" -type f | head -n 20)
fi
[ -n "$new" ] || { echo "no new mail" >&2; exit 1; }
touch "$marker"
for f in $new; do
    sed -n '/^From:/p; /^Subject:/p; /^$/q' "$f"
    echo "---"
done
