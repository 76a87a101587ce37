#!/usr/bin/env python3
"""The straightforward NumPy/SciPy analysis a lab would write, for dopflow_bench.

reference.py REC.wav [F0_HZ ANGLE_DEG]: stereo I/Q WAV -> 50 Hz order-4
Butterworth high-pass -> STFT (Hann, 20 ms, 10 ms hop, two-sided) -> per frame
a noise level (25 % quantile), the intensity-weighted mean frequency and the
95 % percentile maximum frequency of the forward side -> time-averaged mean
and maximum velocity, printed on one line. It is a speed reference only: no
artifact handling, beats or outputs beyond that line (which favours it).
"""
import sys

import numpy as np
from scipy import signal
from scipy.io import wavfile


def main():
    path = sys.argv[1]
    f0 = float(sys.argv[2]) if len(sys.argv) > 2 else 5e6
    angle = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    fs, data = wavfile.read(path)
    x = (data[:, 0].astype(np.float64) + 1j * data[:, 1].astype(np.float64)) / 32768.0

    sos = signal.butter(4, 50.0, btype="highpass", fs=fs, output="sos")
    x = signal.sosfilt(sos, x)

    nperseg = int(round(0.020 * fs))
    hop = int(round(0.010 * fs))
    f, t, z = signal.stft(x, fs=fs, window="hann", nperseg=nperseg, noverlap=nperseg - hop, nfft=256,
                          return_onesided=False, boundary=None, padded=False)
    p = np.abs(z) ** 2
    f = np.fft.fftshift(f)
    p = np.fft.fftshift(p, axes=0)

    # Noise: the 25 % quantile of an exponential distribution is ln(4/3) x its mean.
    noise = np.percentile(p, 25, axis=0) / np.log(4.0 / 3.0)
    s = np.clip(p - noise[None, :], 0.0, None)
    total = s.sum(axis=0)
    fmean = np.where(total > 0, (s * f[:, None]).sum(axis=0) / np.where(total > 0, total, 1.0), 0.0)

    forward = f > 0
    cum = np.cumsum(s[forward, :], axis=0)
    reach = cum >= 0.95 * cum[-1:, :]
    fmax = f[forward][np.argmax(reach, axis=0)]

    cm_s_per_hz = 100.0 * 1540.0 / (2.0 * f0 * np.cos(np.radians(angle)))
    print(f"frames {len(t)} mean_velocity_cm_s {fmean.mean() * cm_s_per_hz:.3f} "
          f"tamax_cm_s {fmax.mean() * cm_s_per_hz:.3f}")


if __name__ == "__main__":
    main()
