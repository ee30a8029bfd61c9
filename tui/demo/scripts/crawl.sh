#!/bin/sh
# A slow job (~25 s) on a 10 s schedule: the next ticks are skipped as "still running".
echo "crawling 25 pages"
i=1
while [ "$i" -le 25 ]; do
  sleep 1
  echo "page $i/25 ok"
  i=$((i + 1))
done
echo "crawl finished"
