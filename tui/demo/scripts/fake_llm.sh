#!/bin/sh
# A pretend AI agent: streams an answer to $CRONDECK_PROMPT slowly, a line at a time,
# with an occasional warning on stderr.
echo "model: fake-llm-mini"
echo "prompt: ${CRONDECK_PROMPT:-<none>}"
sleep 0.6
echo "thinking…"
sleep 0.8
n=0
while IFS= read -r line; do
  n=$((n + 1))
  echo "$line"
  sleep 0.5
  if [ "$n" -eq 3 ]; then
    echo "warn: rate limit at 80%, slowing down" >&2
  fi
done <<'ANSWER'
Reviewed 14 commits and 3 open pull requests since yesterday.
- alice: finished the retry backoff for the uploader (#212)
- bob: investigating flaky login test; suspects a race in session setup
- carol: on call, no incidents overnight
Blockers: staging health check is failing since 02:10 (see deploy-check).
Suggested focus today: merge #212, pair on the flaky test.
ANSWER
echo "tokens: 412 in / 96 out"
