#!/usr/bin/env bash
# Render the HTML report of the sample logs (one day, compared with the day before) and take a
# screenshot with headless Chromium, so a person can look at what the email looks like.
# Needs chromium (Debian: apt-get install chromium). Writes docs/report-email.png.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
python -m botistat report sample_logs/ --since 2026-11-19 --until 2026-11-20 \
  --compare previous --format html --output "$out/report.html" 2>/dev/null
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$out/profile" --hide-scrollbars --window-size=700,1450 \
  --screenshot=docs/report-email.png "file://$out/report.html" 2>/dev/null
rm -rf "$out"
echo "wrote docs/report-email.png"
