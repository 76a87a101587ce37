#!/usr/bin/env python3
"""Heart rate and beats on the labelled real recordings (../shared/data/real, not part of the
project): runs ../shared/tools/real-check.py on the dopflow under test and checks its last line.

  real_recordings_test.py DOPFLOW SOURCE_DIR      exit 0 pass, 1 fail, 77 skipped (no data)

What it asserts, and why these numbers (README, "Real recordings"):
  - negatives_ok = all: the no-flow recordings (noise, speech) give at most 2 beats;
  - real_hr_within_5bpm = all (15/15): met since the envelope periodicity (cw_kit_diastole_6k)
    and the repeat check of a period (postdive 333 flex), 2026-12-06;
  - beat sensitivity >= 0.85 and PPV >= 0.92 against the expert marks: measured 0.87 and 0.94
    with the first beats placed with what the later cycles establish (a beat in progress kept
    while the path waits, nothing fixed before the first beat until its nodes would start beats,
    the first template refined until the path stops moving; 0.85 / 0.93 before),
    with the cycle template (from the first beats on), the last cycle's onset reported as an
    incomplete beat, beats only under a confirmed period, the noise floor re-seeded from below
    where most frames are dropouts, each onset at the foot of the template's running sum (the
    combined evidence the path follows; 0.82 / 0.90 before) and the template match of a cycle
    louder than the template limited to the template's energy (0.84 / 0.92 before); the target
    of issue 14 is 0.95, not yet met.
A drop below these is a regression."""
import os, re, subprocess, sys

dopflow, source = sys.argv[1], sys.argv[2]
shared = os.path.join(source, '..', 'shared')
script = os.path.join(shared, 'tools', 'real-check.py')
if not os.path.isdir(os.path.join(shared, 'data', 'real')) or not os.path.isfile(script):
    print('real recordings: ../shared/data/real absent: skipped')
    sys.exit(77)
out = subprocess.run([sys.executable, script, dopflow], capture_output=True, text=True, timeout=600).stdout
print(out)
m = re.search(r'real_hr_within_5bpm=(\d+)/(\d+) negatives_ok=(\d+)/(\d+) beat_sens=([\d.]+) beat_ppv=([\d.]+)', out)
if not m:
    print('real-check printed no summary line')
    sys.exit(1)
hr_ok, hr_n, neg_ok, neg_n = (int(m.group(i)) for i in range(1, 5))
sens, ppv = float(m.group(5)), float(m.group(6))
checks = [(neg_ok == neg_n, f'no-flow recordings without beats: {neg_ok}/{neg_n}'),
          (hr_ok == hr_n, f'heart rate within 5 bpm: {hr_ok}/{hr_n} (all)'),
          (sens >= 0.85, f'beat sensitivity {sens:.2f} (at least 0.85)'),
          (ppv >= 0.92, f'beat PPV {ppv:.2f} (at least 0.92)')]
for ok, text in checks:
    print(('ok   ' if ok else 'FAIL ') + text)
sys.exit(0 if all(ok for ok, _ in checks) else 1)
