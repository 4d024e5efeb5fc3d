# Stand-in cache check: every view file present is complete (its END line's count and checksum match
# its body). A leftover .tmp file is fine (a cut mid-write): it is never read as a view.
# shellcheck shell=sh source=qemu-tests/guest/lib.sh
. ./lib.sh
dir=/var/lib/yurt/standin
cycle="$1"
[ -d "$dir" ] || { check pass "verify-$cycle" "empty cache (first boot)"; exit 0; }
bad=0 seen=0
for f in "$dir"/view*; do
  [ -f "$f" ] || continue
  seen=$((seen + 1))
  last="$(tail -n1 "$f")"
  body_sum="$(head -n -1 "$f" | md5sum | cut -d' ' -f1)"
  body_items="$(head -n -1 "$f" | wc -l)"
  if [ "$last" != "END items=$body_items md5=$body_sum" ] || [ "$body_items" != 200 ]; then
    echo "verify: $f is torn: items=$body_items last='$last'"
    bad=$((bad + 1))
  fi
done
if [ "$bad" = 0 ]; then check pass "verify-$cycle" "$seen views complete"; exit 0; fi
check fail "verify-$cycle" "$bad of $seen views torn"
exit 1
