#!/usr/bin/env bash
# check_report.sh RUN_DIR [--screenshot FILE] [--window-size W,H] [--keep]
#
# Checks the report of an emgan run directory in a headless browser (Debian's
# chromium), with every network access blocked:
#   1. RUN_DIR/index.html exists; every src/href it holds is a relative path to an
#      existing file in RUN_DIR (or an in-page "#anchor"); nothing refers to the
#      network (http:, https:, //host, @import, url(http...)).
#   2. chromium loads the page (--dump-dom) with DNS and proxy pointed at nowhere,
#      and the DOM it returns is the page (its <title> is there).
#   3. chromium decodes every <img> of the page (naturalWidth > 0).
#   4. chromium renders a screenshot (--screenshot FILE keeps it).
# Prints each problem and exits 1 when there is one; 2 for bad usage; 3 when no
# chromium can be found or installed. Installs chromium with apt-get when missing
# and running as root.
set -euo pipefail
export LC_ALL=C

usage() {
  echo "usage: $0 RUN_DIR [--screenshot FILE] [--window-size W,H] [--keep]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
RUN_DIR=$1
shift
SCREENSHOT=""
WINDOW_SIZE="1280,2400"
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --screenshot) [ $# -ge 2 ] || usage; SCREENSHOT=$2; shift 2 ;;
    --window-size) [ $# -ge 2 ] || usage; WINDOW_SIZE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage ;;
    *) echo "check_report: unknown option $1" >&2; usage ;;
  esac
done

[ -d "$RUN_DIR" ] || { echo "check_report: $RUN_DIR: not a directory" >&2; exit 1; }
RUN_DIR=$(cd "$RUN_DIR" && pwd)
INDEX="$RUN_DIR/index.html"
[ -f "$INDEX" ] || { echo "check_report: $INDEX: missing" >&2; exit 1; }

PROBLEMS=0
problem() {
  echo "check_report: $INDEX: $*" >&2
  PROBLEMS=$((PROBLEMS + 1))
}

# --- 1. static checks of the references -----------------------------------------
decode_ref() {  # HTML entities and %XX escapes of an attribute value
  local v=$1
  v=${v//&amp;/&}
  v=${v//&quot;/\"}
  v=${v//&#39;/\'}
  v=${v//&lt;/<}
  v=${v//&gt;/>}
  printf '%b' "${v//%/\\x}"
}

IMAGES=()
while IFS= read -r attr; do
  name=${attr%%=*}
  value=${attr#*=\"}
  value=${value%\"}
  case "$value" in
    "#"*) continue ;;
    data:*) continue ;;
    //*|[a-zA-Z]*:*) problem "$name=\"$value\" refers outside the run directory (network or absolute URL)"; continue ;;
    /*) problem "$name=\"$value\" is an absolute path"; continue ;;
  esac
  file=$(decode_ref "$value")
  file=${file%%#*}
  if [ ! -f "$RUN_DIR/$file" ]; then
    problem "$name=\"$value\": $RUN_DIR/$file does not exist"
  elif [ ! -s "$RUN_DIR/$file" ]; then
    problem "$name=\"$value\": $RUN_DIR/$file is empty"
  fi
done < <(grep -oE '(src|href)="[^"]*"' "$INDEX" || true)

while IFS= read -r value; do  # the images chromium must decode: existing relative files
  case "$value" in ""|"#"*|data:*|//*|/*|[a-zA-Z]*:*) continue ;; esac
  [ -f "$RUN_DIR/$(decode_ref "$value")" ] && IMAGES+=("$value")
done < <(grep -oE '<img[^>]*src="[^"]*"' "$INDEX" | sed -E 's/.*src="([^"]*)"/\1/' || true)

if grep -qiE "@import|url\([[:space:]]*['\"]?(https?:)?//|<script[^>]*src=|<link[^>]*stylesheet" "$INDEX"; then
  problem "loads a stylesheet or script from outside the page (@import, url(//...), <script src>, <link stylesheet>)"
fi

if [ "$PROBLEMS" -gt 0 ]; then  # the browser would only repeat these
  echo "check_report: $PROBLEMS problem(s) in $INDEX (browser checks skipped)" >&2
  exit 1
fi

# --- find chromium -----------------------------------------------------------------
find_chromium() {
  local c
  for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}
CHROMIUM=$(find_chromium || true)
if [ -z "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "check_report: chromium not found; installing it with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 || true
  CHROMIUM=$(find_chromium || true)
fi
if [ -z "$CHROMIUM" ]; then
  echo "check_report: chromium not found (apt-get install -y chromium)" >&2
  exit 3
fi

TMP=$(mktemp -d)
cleanup() { [ "$KEEP" = 1 ] && echo "check_report: kept $TMP" >&2 || rm -rf "$TMP"; }
trap cleanup EXIT

# No network: every host name resolves to nothing and any proxy use goes nowhere.
run_chromium() {
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --disable-background-networking --disable-sync --disable-default-apps --mute-audio \
    --user-data-dir="$TMP/profile" --host-resolver-rules="MAP * ~NOTFOUND" \
    --proxy-server="http://127.0.0.1:9" --virtual-time-budget=5000 "$@"
}

url_of() {  # file:// URL of an absolute path
  local p=$1 out="" c i
  for ((i = 0; i < ${#p}; i++)); do
    c=${p:i:1}
    case "$c" in
      [a-zA-Z0-9/._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  echo "file://$out"
}

# --- 2. the page loads ---------------------------------------------------------------
if ! run_chromium --dump-dom "$(url_of "$INDEX")" >"$TMP/dom.html" 2>"$TMP/dom.log"; then
  problem "chromium --dump-dom failed: $(tail -n 3 "$TMP/dom.log" | tr '\n' ' ')"
elif ! grep -q "<title>" "$TMP/dom.html" || ! grep -q "</body>" "$TMP/dom.html"; then
  problem "chromium returned no page (dump-dom: $(head -c 200 "$TMP/dom.html"))"
fi

# --- 3. every image decodes ------------------------------------------------------------
if [ ${#IMAGES[@]} -gt 0 ]; then
  {
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>images</title></head><body>'
    for img in "${IMAGES[@]}"; do
      f=$(decode_ref "$img")
      echo "<img src=\"$(url_of "$RUN_DIR/$f")\" data-name=\"$img\">"
    done
    cat <<'EOF'
<script>
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('img').forEach(function (im) {
    var ok = im.complete && im.naturalWidth > 0 && im.naturalHeight > 0;
    out.push((ok ? 'IMG-OK ' : 'IMG-FAIL ') + im.naturalWidth + 'x' + im.naturalHeight + ' ' +
             im.getAttribute('data-name'));
  });
  var pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = 'RESULT-' + 'BEGIN\n' + out.join('\n') + '\nRESULT-' + 'END';
  document.body.appendChild(pre);
});
</script></body></html>
EOF
  } >"$TMP/images.html"
  if ! run_chromium --allow-file-access-from-files --dump-dom "$(url_of "$TMP/images.html")" \
      >"$TMP/images.dom" 2>"$TMP/images.log"; then
    problem "chromium could not open the image check page: $(tail -n 3 "$TMP/images.log" | tr '\n' ' ')"
  elif ! grep -q "^RESULT-END" "$TMP/images.dom"; then
    problem "chromium did not report on the images"
  else
    while IFS= read -r line; do
      problem "chromium could not decode image ${line#IMG-FAIL }"
    done < <(sed -n '/RESULT-BEGIN$/,/^RESULT-END/p' "$TMP/images.dom" | sed 's/^<pre id="result">//' |
             grep '^IMG-FAIL' || true)
  fi
fi

# --- 4. screenshot -------------------------------------------------------------------------
SHOT=${SCREENSHOT:-$TMP/screenshot.png}
case "$SHOT" in /*) ;; *) SHOT="$PWD/$SHOT" ;; esac
rm -f "$SHOT"
if ! run_chromium --hide-scrollbars --window-size="$WINDOW_SIZE" --screenshot="$SHOT" "$(url_of "$INDEX")" \
    >"$TMP/shot.log" 2>&1; then
  problem "chromium --screenshot failed: $(tail -n 3 "$TMP/shot.log" | tr '\n' ' ')"
elif [ ! -s "$SHOT" ]; then
  problem "chromium wrote no screenshot"
fi

if [ "$PROBLEMS" -gt 0 ]; then
  echo "check_report: $PROBLEMS problem(s) in $INDEX" >&2
  exit 1
fi
echo "check_report: OK: $INDEX loads offline, ${#IMAGES[@]} image(s) decoded${SCREENSHOT:+, screenshot $SHOT}"
