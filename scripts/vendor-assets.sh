#!/usr/bin/env bash
# vendor-assets.sh — refresh the front-end files committed under
# internal/web/static/vendor/ (and the icon sprite template) from the npm
# registry (no CDN, ever), trimmed to what the pages use.
#
# Usage: scripts/vendor-assets.sh [BOOTSTRAP_VERSION [ICONS_VERSION [PURGECSS_VERSION]]]
#
# It `npm pack`s the exact package versions into a temporary directory (npm
# checks each tarball against the registry's integrity hash), then:
#  - trims Bootstrap's CSS with PurgeCSS to the selectors whose class names
#    appear in internal/web/templates/*.html and internal/web/static/*.js,
#    writing vendor/bootstrap/bootstrap.trimmed.css;
#  - makes internal/web/templates/icons.html, the sprite of the Bootstrap
#    icons the templates name with {{template "icon" "NAME"}}, one <symbol>
#    each, copied from the icon's own SVG file;
#  - rewrites vendor/README.md with the versions, sizes and SHA-256 sums.
# Run it again after changing the classes or icons the templates use. Needs
# npm (PurgeCSS runs from npm's cache); leaves no node_modules behind. The
# same inputs give the same files.
set -euo pipefail

BOOTSTRAP_VERSION=${1:-5.3.9}
ICONS_VERSION=${2:-1.13.2}
PURGECSS_VERSION=${3:-8.0.0}

cd "$(dirname "$0")/.."
web=internal/web
vendor=$web/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "bootstrap@$BOOTSTRAP_VERSION" "bootstrap-icons@$ICONS_VERSION" >/dev/null)
bs=$tmp/bs bi=$tmp/bi
mkdir -p "$bs" "$bi"
tar -xzf "$tmp/bootstrap-$BOOTSTRAP_VERSION.tgz" -C "$bs" --strip-components=1
tar -xzf "$tmp/bootstrap-icons-$ICONS_VERSION.tgz" -C "$bi" --strip-components=1

rm -rf "$vendor/bootstrap" "$vendor/bootstrap-icons"
mkdir -p "$vendor/bootstrap" "$vendor/bootstrap-icons"
cp "$bs/LICENSE" "$vendor/bootstrap/"
cp "$bi/LICENSE" "$vendor/bootstrap-icons/"

# --- CSS: Bootstrap trimmed to the classes the pages use ----------------------
# The source map comment goes: no map is served.
sed -e 's|/\*# sourceMappingURL=[^*]*\*/||' "$bs/dist/css/bootstrap.min.css" >"$tmp/bootstrap.css"
# Unused custom properties go too, except those app.css uses.
vars=$(grep -o 'var(--[a-z0-9-]*' "$web/static/app.css" | sed 's/^var(//' | LC_ALL=C sort -u | sed 's/.*/"&"/' | paste -sd, -)
echo "module.exports = { safelist: { variables: [$vars] } };" >"$tmp/purgecss.config.cjs"
content=("$web"/templates/*.html "$web"/static/*.js)
(cd "$tmp" && npm exec --yes --package="purgecss@$PURGECSS_VERSION" -- \
	purgecss --config purgecss.config.cjs --css bootstrap.css --keyframes --font-face --variables \
	--content "${content[@]/#/$OLDPWD/}" --output out/) >/dev/null
{
	echo "/* Bootstrap v$BOOTSTRAP_VERSION (https://getbootstrap.com/), MIT licensed (LICENSE), trimmed by scripts/vendor-assets.sh to the selectors tasklist's pages use */"
	cat "$tmp/out/bootstrap.css"
} >"$vendor/bootstrap/bootstrap.trimmed.css"

# --- icons: one SVG sprite of those the templates name ------------------------
mapfile -t icons < <(grep -ho '{{template "icon" "[a-z0-9-]*"}}' "$web"/templates/*.html | sed 's/.*"icon" "\(.*\)"}}/\1/' | LC_ALL=C sort -u)
{
	echo "{{/* icon-sprite: the Bootstrap icons (bootstrap-icons@$ICONS_VERSION, MIT) that the"
	echo "     templates use, as SVG symbols. Made by scripts/vendor-assets.sh: do not edit. */}}"
	printf '{{define "icon-sprite"}}<svg class="d-none">'
	for name in "${icons[@]}"; do
		svg=$bi/icons/$name.svg
		[[ -f $svg ]] || { echo "vendor-assets: no icon $name in bootstrap-icons@$ICONS_VERSION" >&2; exit 1; }
		view=$(grep -o 'viewBox="[^"]*"' "$svg" | head -1)
		# The shapes inside <svg>…</svg>, on one line.
		inner=$(tr '\n' ' ' <"$svg" | sed -e 's/^.*<svg[^>]*>//' -e 's/<\/svg>.*$//' -e 's/>[[:space:]]*</></g' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
		printf '<symbol id="bi-%s" %s>%s</symbol>' "$name" "$view" "$inner"
	done
	printf '</svg>{{end}}\n'
} >"$web/templates/icons.html"

sums=$(cd "$vendor" && find bootstrap bootstrap-icons -type f | LC_ALL=C sort | xargs sha256sum)
css=$vendor/bootstrap/bootstrap.trimmed.css
full_size=$(wc -c <"$bs/dist/css/bootstrap.min.css")
size=$(wc -c <"$css")
gz_size=$(gzip -9 -n <"$css" | wc -c)
cat >"$vendor/README.md" <<MD
# Vendored front-end assets

Served from \`/static/vendor/\` out of the embedded \`internal/web/static\`, under
fingerprinted URLs (see docs/frontend.md); no CDN is ever used. Made by
\`scripts/vendor-assets.sh\` from the npm packages:

| package | what is here |
| --- | --- |
| bootstrap@$BOOTSTRAP_VERSION | \`bootstrap/bootstrap.trimmed.css\`: dist/css/bootstrap.min.css trimmed by purgecss@$PURGECSS_VERSION to the selectors whose classes the templates and scripts use ($size bytes, $gz_size gzip'd; the whole file is $full_size); \`bootstrap/LICENSE\` (MIT) |
| bootstrap-icons@$ICONS_VERSION | the icons the templates name, as an SVG sprite in \`internal/web/templates/icons.html\` ($(printf '%s ' "${icons[@]}")); \`bootstrap-icons/LICENSE\` (MIT) |

To refresh — after changing the classes or icons the templates use, or to
change versions (needs npm and the npm registry):

    scripts/vendor-assets.sh $BOOTSTRAP_VERSION $ICONS_VERSION $PURGECSS_VERSION

SHA-256:

\`\`\`
$sums
\`\`\`
MD
echo "vendored bootstrap@$BOOTSTRAP_VERSION (trimmed: $size bytes, $gz_size gzip'd) and ${#icons[@]} icons of bootstrap-icons@$ICONS_VERSION"
