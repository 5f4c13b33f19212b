#!/usr/bin/env bash
# vendor-assets.sh — refresh the front-end files committed under
# internal/web/static/vendor/ from the npm registry (no CDN, ever).
#
# Usage: scripts/vendor-assets.sh [BOOTSTRAP_VERSION [ICONS_VERSION]]
#
# It `npm pack`s the exact package versions into a temporary directory (npm
# checks each tarball against the registry's integrity hash), copies the few
# files the site serves byte for byte, and rewrites vendor/README.md with the
# versions and SHA-256 sums. Needs only npm; leaves no node_modules behind.
set -euo pipefail

BOOTSTRAP_VERSION=${1:-5.3.9}
ICONS_VERSION=${2:-1.13.2}

cd "$(dirname "$0")/.."
vendor=internal/web/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "bootstrap@$BOOTSTRAP_VERSION" "bootstrap-icons@$ICONS_VERSION" >/dev/null)
bs=$tmp/bs bi=$tmp/bi
mkdir -p "$bs" "$bi"
tar -xzf "$tmp/bootstrap-$BOOTSTRAP_VERSION.tgz" -C "$bs" --strip-components=1
tar -xzf "$tmp/bootstrap-icons-$ICONS_VERSION.tgz" -C "$bi" --strip-components=1

rm -rf "$vendor/bootstrap" "$vendor/bootstrap-icons"
mkdir -p "$vendor/bootstrap" "$vendor/bootstrap-icons/fonts"
cp "$bs/dist/css/bootstrap.min.css" "$bs/LICENSE" "$vendor/bootstrap/"
cp "$bi/font/bootstrap-icons.min.css" "$bi/LICENSE" "$vendor/bootstrap-icons/"
cp "$bi/font/fonts/bootstrap-icons.woff2" "$bi/font/fonts/bootstrap-icons.woff" "$vendor/bootstrap-icons/fonts/"

# The icon font must be referenced relative to the CSS file, so that it works
# wherever vendor/ is served from.
if grep -o 'url([^)]*)' "$vendor/bootstrap-icons/bootstrap-icons.min.css" | grep -vq '^url("fonts/'; then
	echo "vendor-assets: bootstrap-icons CSS refers to something outside fonts/; check it" >&2
	exit 1
fi

sums=$(cd "$vendor" && find bootstrap bootstrap-icons -type f | LC_ALL=C sort | xargs sha256sum)
cat >"$vendor/README.md" <<MD
# Vendored front-end assets

Served from \`/static/vendor/\` out of the embedded \`internal/web/static\`; no CDN is
ever used. Files are copied byte for byte from the npm packages (no JS, no source maps:
\`bootstrap.min.css\` still ends with a \`sourceMappingURL\` comment, which only browser
developer tools follow).

| package | files |
| --- | --- |
| bootstrap@$BOOTSTRAP_VERSION | \`bootstrap/bootstrap.min.css\` (dist/css), \`bootstrap/LICENSE\` (MIT) |
| bootstrap-icons@$ICONS_VERSION | \`bootstrap-icons/bootstrap-icons.min.css\`, \`bootstrap-icons/fonts/bootstrap-icons.woff2\`, \`.woff\` (font/), \`bootstrap-icons/LICENSE\` (MIT) |

The icon CSS loads its font by the relative URL \`fonts/bootstrap-icons.woff2?<hash>\`,
so it works wherever this folder is served.

To refresh (needs npm and the npm registry; pass other versions to change them):

    scripts/vendor-assets.sh $BOOTSTRAP_VERSION $ICONS_VERSION

SHA-256:

\`\`\`
$sums
\`\`\`
MD
echo "vendored bootstrap@$BOOTSTRAP_VERSION and bootstrap-icons@$ICONS_VERSION into $vendor"
