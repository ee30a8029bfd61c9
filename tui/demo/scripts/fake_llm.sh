#!/bin/sh
# A pretend AI agent: streams an answer to $CRONDECK_PROMPT slowly, line by line.
echo "model: fake-llm-mini  run: ${CRONDECK_RUN_ID:-manual}"
echo "prompt: ${CRONDECK_PROMPT:-<none>}"
sleep 0.5
echo "thinking…"
sleep 0.7
i=1
for word in Reviewed the recent activity. Three items need attention, one is urgent. Done.; do
  echo "  [$i] $word"
  i=$((i + 1))
  sleep 0.4
  if [ "$i" -eq 6 ]; then
    echo "warn: rate limit at 80%, slowing down" >&2
  fi
done
echo "tokens: 412 in / 96 out"
