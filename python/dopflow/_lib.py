"""ctypes binding of libdopflow.so (include/dopflow/samples.h and status.h).

Only opaque handles, numbers and strings cross the boundary: options are set
by name and results come back as the command line's CSV text, so no C struct
layout is mirrored here.
"""
import ctypes
import os

_SONAME = "libdopflow.so.0"
_ERROR_BYTES = 4096  # >= sizeof(dop_error) (512): the message buffer


# The result schema's tables and columns used here (dopflow/result_schema.h).
RESULT_SPECTRA, RESULT_FRAMES, RESULT_BEATS = 0, 1, 2
SPECTRA_SPECTROGRAM, SPECTRA_TIME, SPECTRA_VELOCITY = 0, 1, 2


class Error(RuntimeError):
    """A dopflow call failed; .status is the dop_status code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _candidates():
    env = os.environ.get("DOPFLOW_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    try:  # installed by cmake --install: the library relative to the package
        from ._install import LIBDIR_FROM_PACKAGE
        yield os.path.normpath(os.path.join(here, LIBDIR_FROM_PACKAGE, _SONAME))
    except ImportError:
        pass
    yield _SONAME  # the loader's search path (/usr/lib, LD_LIBRARY_PATH)


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(path + ": not found")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("dopflow: cannot load %s (set DOPFLOW_LIBRARY): %s" % (_SONAME, "; ".join(errors)))


lib = _load()
_vp, _int, _sz, _cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p
for name, restype, argtypes in [
    ("dop_version", _cp, []),
    ("dop_strerror", _cp, [_int]),
    ("dop_options_create", _int, [ctypes.POINTER(_vp), _vp]),
    ("dop_options_set", _int, [_vp, _cp, _cp, _vp]),
    ("dop_options_destroy", None, [_vp]),
    ("dop_analyze_samples", _int, [_vp, _vp, _sz, ctypes.POINTER(_vp), _vp]),
    ("dop_result_csv", _cp, [_vp, _cp]),
    ("dop_result_nyquist_cm_s", ctypes.c_double, [_vp]),
    ("dop_result_h5_path", _cp, [_int, _int, ctypes.c_char_p, _sz]),
    ("dop_result_destroy", None, [_vp]),
    ("dop_samples_read", _int, [_cp, ctypes.POINTER(_vp), _vp]),
    ("dop_samples_data", _vp, [_vp]),
    ("dop_samples_pulses", _sz, [_vp]),
    ("dop_samples_gates", ctypes.c_long, [_vp]),
    ("dop_samples_rate_hz", ctypes.c_double, [_vp]),
    ("dop_samples_channels", _cp, [_vp]),
    ("dop_samples_destroy", None, [_vp]),
]:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


def error_buffer():
    return ctypes.create_string_buffer(_ERROR_BYTES)


def check(status, err):
    """Raise Error with the detailed message (else the status text) unless DOP_OK."""
    if status != 0:
        message = err.value.decode("utf-8", "replace") or lib.dop_strerror(status).decode()
        raise Error(status, message)


def h5_path(kind, column):
    """The HDF5 path of a result column from the library's one schema
    (dop_result_h5_path), e.g. "/frames/time_s"; "" when not in the file."""
    buf = ctypes.create_string_buffer(256)
    lib.dop_result_h5_path(kind, column, buf, len(buf))
    return buf.value.decode()
