"""Result tables as NumPy structured arrays: from the command line's CSV text
(frames, beats, summary; every column named with its unit) and from its HDF5
result file. Numeric columns are float64 (an empty field, i.e. no value, is
NaN); text columns (quality, epoch) are str."""
import csv
import io

import numpy as np


def _column(values):
    try:
        return np.array([float(v) if v != "" else np.nan for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)


def parse_csv(text):
    """CSV text with a header line -> structured array (one field per column)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError("empty CSV: no header line")
    header, body = rows[0], rows[1:]
    columns = [_column([row[i] if i < len(row) else "" for row in body]) for i in range(len(header))]
    dtype = [(name, col.dtype if col.dtype.kind != "U" or col.size else "U1") for name, col in zip(header, columns)]
    table = np.empty(len(body), dtype=dtype)
    for name, col in zip(header, columns):
        table[name] = col
    return table


def read_csv(path):
    """A dopflow CSV result (--frames, --beats, --summary, study tables)."""
    with open(path, encoding="utf-8") as f:
        return parse_csv(f.read())


def _group(h5, name):
    group = h5.get(name)
    if group is None:
        return np.empty(0, dtype=[])
    names = sorted(group.keys())
    columns = [group[n][()] for n in names]
    table = np.empty(len(columns[0]) if columns else 0, dtype=[(n, c.dtype) for n, c in zip(names, columns)])
    for n, c in zip(names, columns):
        table[n] = c
    return table


class H5Result:
    """A dopflow HDF5 result (analyze --h5): frames and beats as structured
    arrays (/frames/<field>, /beats/<field>), the spectrogram (dB, frames x
    bins), time_s, velocity_cm_s and the root attributes (every parameter).
    The paths come from the library's result schema (dop_result_h5_path)."""

    def __init__(self, path):
        try:
            import h5py
        except ImportError as e:  # pragma: no cover - Debian: python3-h5py
            raise ImportError("dopflow.read_h5 needs h5py (Debian: python3-h5py)") from e
        from . import _lib

        def dataset(column):
            name = _lib.h5_path(_lib.RESULT_SPECTRA, column)
            return h5[name][()] if name in h5 else None

        def group_of(kind):  # "/frames/index" -> "frames"
            return _lib.h5_path(kind, 0).strip("/").split("/")[0]

        with h5py.File(path, "r") as h5:
            self.frames = _group(h5, group_of(_lib.RESULT_FRAMES))
            self.beats = _group(h5, group_of(_lib.RESULT_BEATS))
            self.spectrogram = dataset(_lib.SPECTRA_SPECTROGRAM)
            self.time_s = dataset(_lib.SPECTRA_TIME)
            self.velocity_cm_s = dataset(_lib.SPECTRA_VELOCITY)
            self.attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}


def read_h5(path):
    return H5Result(path)


def to_dataframe(table):
    """A structured array as a pandas DataFrame (pandas is optional)."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("to_dataframe needs pandas (Debian: python3-pandas)") from e
    return pandas.DataFrame({name: table[name] for name in table.dtype.names})
