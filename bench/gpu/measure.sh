# bench/gpu/measure.sh — sourced by the bench scripts.
#
# measure LABEL CMD...: runs CMD, records wall seconds and peak RSS (KiB) of
# the child in $WALL and $RSS. Uses python's getrusage on the child so that
# the figure is the same whether or not /usr/bin/time exists. Exits the
# calling script when CMD fails.
measure() {
  local label=$1; shift
  local res
  res=$(python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.run(sys.argv[1:], stdout=sys.stderr).returncode
w = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{w:.2f} {ru.ru_maxrss} {rc}")
PY
)
  read -r WALL RSS RC <<<"$res"
  echo "[$label] wall ${WALL}s, peak RSS $((RSS / 1024)) MiB, exit $RC" >&2
  if [ "$RC" != 0 ]; then
    echo "[$label] failed" >&2
    exit 1
  fi
}
