#!/usr/bin/env bash
# audit.sh — runs the outside checkers of the front end against the real app
# on 127.0.0.1, and fails when one of them is not satisfied:
#
#  - Lighthouse 12.2.3 (mobile, the default form factor; Debian's Chromium)
#    on / and /stats: performance >= 95 (the median of RUNS runs: the score
#    moves with the machine's load), accessibility 100, best practices 100,
#    cumulative layout shift 0;
#  - axe-core (@axe-core/cli, with Debian's chromedriver) on /, a later page
#    (/?after=N) and /stats; and, through the same axe-core and WebDriver,
#    on the page after a write: a browser adds a task with the form and axe
#    runs on the page with its flash message;
#  - REDbot, when the `redbot` command is installed (pip install redbot), on
#    /, a static file and /stats. (Its rules, and the page after a write, are
#    also checked by the test suite: TestHTTPAudit in internal/web.)
#
# Usage: scripts/audit.sh [OUT_DIR]     (reports in OUT_DIR, default audit-results/)
#
# Needs Go, Node with npm, chromium and chromium-driver (Debian). Installs
# lighthouse@12.2.3 and @axe-core/cli globally with npm when they are missing
# (CHROMEDRIVER_SKIP_DOWNLOAD: the npm chromedriver would download a driver
# of its own; Debian's is used). The app gets a fresh SQLite database in a
# temporary directory, with TASKLIST_PAGE_SIZE tasks and 5 more (default
# page size 100), and is stopped at the end. See docs/frontend.md.
set -euo pipefail
cd "$(dirname "$0")/.."

LIGHTHOUSE_VERSION=12.2.3
RUNS=${RUNS:-3}
PAGE_SIZE=${TASKLIST_PAGE_SIZE:-100}
out=${1:-audit-results}
say() { echo "audit.sh: $*"; }
die() { echo "audit.sh: $*" >&2; exit 1; }

chromium=$(command -v chromium || command -v chromium-browser) || die "needs chromium (apt-get install chromium)"
chromedriver=$(command -v chromedriver) || die "needs chromedriver (apt-get install chromium-driver)"
command -v npm >/dev/null || die "needs npm (apt-get install npm)"
if [[ $(lighthouse --version 2>/dev/null) != "$LIGHTHOUSE_VERSION" ]]; then
	say "installing lighthouse@$LIGHTHOUSE_VERSION"
	npm install -g --silent "lighthouse@$LIGHTHOUSE_VERSION" >/dev/null
fi
axe_dir=$(npm root -g)/@axe-core/cli
if [[ ! -f $axe_dir/package.json ]]; then
	say "installing @axe-core/cli"
	CHROMEDRIVER_SKIP_DOWNLOAD=true npm install -g --silent @axe-core/cli >/dev/null
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
app_pid=
cleanup() {
	if [[ -n $app_pid ]]; then kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- the app --------------------------------------------------------------------
go build -o "$tmp/tasklist" ./cmd/tasklist
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
TASKLIST_ADDR=127.0.0.1:$port DATABASE_URL=sqlite:$tmp/tasklist.db TASKLIST_PAGE_SIZE=$PAGE_SIZE \
	TASKLIST_LOG_LEVEL=warn "$tmp/tasklist" >"$out/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 50); do
	curl -fs -o /dev/null "$base/healthz" && break
	sleep 0.2
done
curl -fs -o /dev/null "$base/healthz" || die "the app did not start; see $out/app.log"
post() { curl -fs -o /dev/null -H 'Sec-Fetch-Site: same-origin' --data-urlencode "$2" "$base$1"; }
for i in $(seq "$((PAGE_SIZE + 5))"); do post /add "name=Task number $i"; done
post /toggle id=2 # a done task, struck through
later=$base/?after=$PAGE_SIZE
say "app on $base (pid $app_pid) with $((PAGE_SIZE + 5)) tasks"

failed=0
fail() { echo "audit.sh: FAIL: $*" >&2; failed=1; }

# --- Lighthouse -----------------------------------------------------------------
summary=$out/summary.txt
: >"$summary"
for path in / /stats; do
	name=$( [[ $path == / ]] && echo index || echo stats)
	for run in $(seq "$RUNS"); do
		CHROME_PATH=$chromium lighthouse "$base$path" --quiet --chrome-flags="--headless=new --no-sandbox" \
			--output=json --output-path="$out/lighthouse-$name-$run.json" >/dev/null 2>&1 ||
			fail "lighthouse $path (run $run) did not finish"
	done
	node - "$path" "$out" "$name" "$RUNS" >>"$summary" <<'JS' || fail "lighthouse $path: below the bar (see $summary)"
const [path, out, name, runs] = process.argv.slice(2);
const reports = Array.from({length: +runs}, (_, i) => require(`${out}/lighthouse-${name}-${i + 1}.json`));
const score = (r, c) => Math.round(r.categories[c].score * 100);
const perf = reports.map(r => score(r, "performance")).sort((a, b) => a - b);
const median = perf[(perf.length - 1) >> 1];
const worst = c => Math.min(...reports.map(r => score(r, c)));
const cls = Math.max(...reports.map(r => r.audits["cumulative-layout-shift"].numericValue));
const r = reports.find(x => score(x, "performance") === median); // the figures below are its
console.log(`lighthouse ${r.lighthouseVersion} ${path} (${r.configSettings.formFactor}, ${runs} runs): ` +
  `performance ${median} (median of ${perf.join(" ")}), accessibility ${worst("accessibility")}, ` +
  `best-practices ${worst("best-practices")}, seo ${worst("seo")}, CLS ${cls}, ` +
  `FCP ${r.audits["first-contentful-paint"].displayValue}, LCP ${r.audits["largest-contentful-paint"].displayValue}, ` +
  `TBT ${r.audits["total-blocking-time"].displayValue}, ${r.audits["total-byte-weight"].displayValue}`);
process.exit(median >= 95 && worst("accessibility") === 100 && worst("best-practices") === 100 && cls === 0 ? 0 : 1);
JS
done

# --- axe-core ---------------------------------------------------------------------
axe_version=$(node -p "require(require.resolve('axe-core/package.json', {paths: ['$axe_dir']})).version")
if node "$axe_dir/dist/src/bin/cli.js" "$base/" "$later" "$base/stats" --exit \
	--chromedriver-path "$chromedriver" --chrome-path "$chromium" --chrome-options="no-sandbox,headless=new" \
	--dir "$out" --save axe.json >"$out/axe.txt" 2>&1; then
	echo "axe-core $axe_version (@axe-core/cli): 0 violations on /, /?after=$PAGE_SIZE, /stats" >>"$summary"
else
	fail "axe-core found violations on /, /?after=$PAGE_SIZE or /stats (see $out/axe.txt)"
fi
# The page after a write: a browser submits the form; axe runs on the page
# it lands on, which shows the flash message.
if AXE_DIR=$axe_dir CHROMIUM=$chromium CHROMEDRIVER=$chromedriver node - "$base" >"$out/axe-after-write.json" 2>"$out/axe-after-write.txt" <<'JS'; then
const dir = process.env.AXE_DIR;
const need = m => require(require.resolve(m, {paths: [dir]}));
const {Builder, By, until} = need("selenium-webdriver");
const chrome = need("selenium-webdriver/chrome");
const AxeBuilder = need("@axe-core/webdriverjs").default;
(async () => {
  const options = new chrome.Options().addArguments("headless=new", "no-sandbox").setChromeBinaryPath(process.env.CHROMIUM);
  const driver = await new Builder().forBrowser("chrome").setChromeOptions(options)
    .setChromeService(new chrome.ServiceBuilder(process.env.CHROMEDRIVER)).build();
  try {
    await driver.get(process.argv[2] + "/");
    await driver.findElement(By.id("task-name")).sendKeys("Written by the audit");
    await driver.findElement(By.id("add-task")).click();
    await driver.wait(until.elementLocated(By.id("flash-message")), 15000);
    const results = await new AxeBuilder(driver).analyze();
    console.log(JSON.stringify(results.violations, null, 1));
    process.exit(results.violations.length === 0 ? 0 : 1);
  } finally {
    await driver.quit();
  }
})().catch(e => { console.error(e); process.exit(2); });
JS
	echo "axe-core $axe_version (@axe-core/webdriverjs): 0 violations on the page after a write (with its flash)" >>"$summary"
else
	fail "axe-core on the page after a write (see $out/axe-after-write.json, .txt)"
fi

# --- REDbot -------------------------------------------------------------------------
if command -v redbot >/dev/null; then
	css=$(curl -fs "$base/" | grep -o '/static/app\.[0-9a-f]*\.css' | head -1)
	for u in "$base/" "$base$css" "$base/stats"; do
		redbot "$u" >>"$out/redbot.txt" 2>&1 || fail "redbot $u"
	done
	echo "redbot: see $out/redbot.txt" >>"$summary"
else
	echo "redbot: not installed (pip install redbot); its rules run in the suite (TestHTTPAudit)" >>"$summary"
fi

cat "$summary"
((failed == 0)) || die "some checks failed; reports in $out"
say "all checks passed; reports in $out"
