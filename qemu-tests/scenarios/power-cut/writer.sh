# Stand-in cache writer: replaces 4 "views" round-robin, each new state written to a temporary file,
# fsynced, renamed over the old one, and the directory fsynced: the same all-or-nothing contract a
# LIST or WATCH batch has in the hub's cache. Runs until QEMU is killed.
# YURT_WRITER=inplace (power-cut --writer inplace) writes over the view file directly and fsyncs
# half-way, as a batch persisted in two steps would: a deliberately broken writer, to show that
# verify.sh catches torn states.
# shellcheck shell=sh disable=SC2094 # the in-place mode fsyncs the file it is writing, on purpose
dir=/var/lib/yurt/standin
mkdir -p "$dir"
cycle="$1"
n=0
while :; do
  v=$((n % 4))
  tmp="$dir/.view$v.tmp"
  [ "${YURT_WRITER:-atomic}" != inplace ] || tmp="$dir/view$v"
  {
    i=0
    while [ "$i" -lt 200 ]; do
      echo "cycle=$cycle seq=$n item=$i"
      i=$((i + 1))
      [ "$i" != 100 ] || [ "${YURT_WRITER:-atomic}" != inplace ] || sync "$tmp"
    done
  } > "$tmp"
  sum="$(md5sum < "$tmp" | cut -d' ' -f1)"
  echo "END items=200 md5=$sum" >> "$tmp"
  sync "$tmp"
  [ "$tmp" = "$dir/view$v" ] || mv "$tmp" "$dir/view$v"
  sync "$dir"
  n=$((n + 1))
done
