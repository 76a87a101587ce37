#!/usr/bin/env bash
# tools/outputs-compare.sh REFDIR NEWDIR (two folders of tools/outputs-record.sh): cmp every
# file; for .h5/.mat that differ, compare h5dump text
# without the file-name line; prints one line per differing file and a total.
ref=$1; new=$2; n=0; d=0
while IFS= read -r f; do
  n=$((n+1)); rel=${f#$ref/}
  if ! cmp -s "$f" "$new/$rel"; then
    case $rel in
      *.h5) if diff <(h5dump "$f" | sed 1d) <(h5dump "$new/$rel" | sed 1d) > /dev/null; then echo "same-content(h5dump): $rel"; continue; fi ;;
      *.mat) echo "differs (MAT timestamps expected): $rel"; continue ;;
    esac
    d=$((d+1)); echo "DIFFERS: $rel"
  fi
done < <(find "$ref" -type f | sort)
echo "compared $n files, $d differ"
