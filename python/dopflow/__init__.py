"""dopflow from Python: the streaming Doppler analysis of libdopflow.so on
NumPy arrays, and the command line's result files as NumPy arrays.

    import dopflow
    rec = dopflow.read_recording("rec.wav")            # complex64 samples, rate
    r = dopflow.analyze(rec.samples, rec.rate_hz, f0_hz=5e6, angle_deg=60,
                        diameter_mm=3.8, wall_hz=50, epochs="pre:0:10,post:10:20")
    r.frames["vmean_cm_s"], r.beats["psv_cm_s"], r.summary["flow_ml_min"]
    dopflow.read_csv("frames.csv"); dopflow.read_h5("rec.h5").spectrogram

Options are those of `dopflow analyze` with '_' for '-' (wall_hz for
--wall-hz; f0_hz or f0, angle_deg or angle, c_m_s or c, diameter_mm or
diameter, baseline_shift_cm_s or baseline_shift) and give byte for byte the
command line's CSV for the same samples.
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import Error
from .tables import H5Result, parse_csv, read_csv, read_h5, to_dataframe

__all__ = ["analyze", "read_recording", "read_csv", "read_h5", "to_dataframe", "Result", "Recording",
           "H5Result", "Error", "version"]


def version():
    """Version of the loaded libdopflow."""
    return _lib.lib.dop_version().decode()


__version__ = version()


class Result:
    """What dopflow analyze writes: .frames, .beats and .summary (one row per
    epoch) as NumPy structured arrays, .csv the exact CSV texts, and
    .nyquist_cm_s."""

    def __init__(self, csv_texts, nyquist_cm_s):
        self.csv = csv_texts
        self.frames = parse_csv(csv_texts["frames"])
        self.beats = parse_csv(csv_texts["beats"])
        self.summary = parse_csv(csv_texts["summary"])
        self.nyquist_cm_s = nyquist_cm_s

    def dataframe(self, table="frames"):
        """One table as a pandas DataFrame (needs pandas)."""
        return to_dataframe(getattr(self, table))


class Recording:
    """A recording as dopflow reads it: samples (complex64, pulses or pulses x
    gates; full scale 1.0), rate_hz and channels ("iq", "qi" or "mono")."""

    def __init__(self, samples, rate_hz, channels):
        self.samples, self.rate_hz, self.channels = samples, rate_hz, channels


def read_recording(path):
    """Read a whole recording (WAV, FLAC, native HDF5 IQ, UFF, MATLAB...) with
    dopflow's reader, channel mapping from the file."""
    handle, err = ctypes.c_void_p(), _lib.error_buffer()
    _lib.check(_lib.lib.dop_samples_read(str(path).encode(), ctypes.byref(handle), err), err)
    try:
        n = _lib.lib.dop_samples_pulses(handle)
        gates = _lib.lib.dop_samples_gates(handle)
        data = np.empty((n, gates) if gates > 1 else n, dtype=np.complex64)
        if n:
            ctypes.memmove(data.ctypes.data, _lib.lib.dop_samples_data(handle), data.nbytes)
        return Recording(data, _lib.lib.dop_samples_rate_hz(handle), _lib.lib.dop_samples_channels(handle).decode())
    finally:
        _lib.lib.dop_samples_destroy(handle)


def _as_complex(samples, channels):
    """NumPy samples -> (contiguous complex64 pulse-major array, gates, channels)."""
    x = np.asarray(samples)
    if np.iscomplexobj(x):
        if x.ndim not in (1, 2):
            raise ValueError("complex samples: shape (pulses,) or (pulses, gates), got %s" % (x.shape,))
        return np.ascontiguousarray(x, dtype=np.complex64), (x.shape[1] if x.ndim == 2 else 1), channels or "iq"
    if x.ndim == 2 and x.shape[1] == 2:  # stereo: left = I, right = Q (qi: swapped)
        i, q = (x[:, 1], x[:, 0]) if channels == "qi" else (x[:, 0], x[:, 1])
        z = np.empty(len(x), dtype=np.complex64)
        z.real, z.imag = i, q
        return z, 1, channels or "iq"
    if x.ndim == 1:  # one real channel: non-directional, I = x, Q = 0
        if channels not in (None, "mono"):
            raise ValueError("real 1-D samples are mono; channels=%r needs stereo or complex samples" % channels)
        return np.ascontiguousarray(x, dtype=np.float32).astype(np.complex64), 1, "mono"
    raise ValueError("samples: complex (pulses[, gates]), real stereo (pulses, 2) or real mono (pulses,), got %s"
                     % (x.shape,))


def _option_text(value):
    if isinstance(value, (list, tuple)):  # epochs as [(label, start, end), ...]
        return ",".join("%s:%r:%r" % (label, float(a), float(b)) for label, a, b in value)
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    return str(value)


def analyze(samples, fs_hz, channels=None, **options):
    """Analyse samples at fs_hz (sample rate or PRF) as `dopflow analyze` does.

    samples: complex (pulses,) or (pulses, gates); real stereo (pulses, 2) as
    I/Q (channels="qi": swapped); real (pulses,) as non-directional mono.
    options: f0_hz and angle_deg are required; diameter_mm for flow; any
    analysis option of the command line (wall_hz, wall_order, window,
    window_ms, hop_ms, fft, vmax, percentile, threshold_db, vmean, c_m_s,
    baseline_shift_cm_s, unwrap) and epochs ("label:start:end,..." or a list
    of (label, start, end)). Raises dopflow.Error as the command line would
    fail (missing or non-physical metadata, aliasing, too few samples).
    """
    x, gates, channels = _as_complex(samples, channels)
    opts, result, err = ctypes.c_void_p(), ctypes.c_void_p(), _lib.error_buffer()
    _lib.check(_lib.lib.dop_options_create(ctypes.byref(opts), err), err)
    try:
        settings = dict(options, fs_hz=fs_hz, gates=gates, channels=channels)
        for name, value in settings.items():
            if value is None:
                continue
            _lib.check(_lib.lib.dop_options_set(opts, name.encode(), _option_text(value).encode(), err), err)
        pulses = x.shape[0]
        _lib.check(_lib.lib.dop_analyze_samples(opts, x.ctypes.data, pulses, ctypes.byref(result), err), err)
        texts = {t: _lib.lib.dop_result_csv(result, t.encode()).decode() for t in ("frames", "beats", "summary")}
        return Result(texts, _lib.lib.dop_result_nyquist_cm_s(result))
    finally:
        _lib.lib.dop_result_destroy(result)
        _lib.lib.dop_options_destroy(opts)
