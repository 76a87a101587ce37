"""The Python package against the command line on simulated recordings."""
import json
import wave

import numpy as np
import pytest

import dopflow

from conftest import run


def acquisition(meta):
    return {k: meta[k] for k in ("f0_hz", "angle_deg", "c_m_s", "diameter_mm") if k in meta}


def test_version_is_the_programs(recording):
    assert run("--version").stdout.strip() == "dopflow " + dopflow.version()


def test_read_recording(recording):
    rec = dopflow.read_recording(recording["wav"])
    info = json.loads(run("info", str(recording["wav"]), "--json").stdout)
    assert rec.samples.dtype == np.complex64 and rec.samples.shape == (info["frames"],)
    assert rec.channels == info["channels"] == "iq" and rec.rate_hz == info["sample_rate_hz"]
    assert np.abs(rec.samples).max() <= 1.5


def test_wav_read_with_the_standard_library(recording):
    """Stereo int16 samples read by Python's wave module, scaled as libsndfile does (1/32768)."""
    with wave.open(str(recording["wav"])) as w:
        assert w.getnchannels() == 2 and w.getsampwidth() == 2
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    r = dopflow.analyze(pcm / 32768.0, rate, **acquisition(recording["meta"]))
    assert r.csv["summary"] == recording["csv"]["summary"].read_text()
    assert r.csv["frames"] == recording["csv"]["frames"].read_text()


def test_complex_array_gives_the_command_lines_csv(recording):
    rec = dopflow.read_recording(recording["wav"])
    r = dopflow.analyze(rec.samples, rec.rate_hz, **acquisition(recording["meta"]))
    for table, path in recording["csv"].items():
        assert r.csv[table] == path.read_text(), table  # byte for byte
    cli = dopflow.read_csv(recording["csv"]["frames"])
    assert r.frames.dtype.names == cli.dtype.names
    np.testing.assert_array_equal(r.frames["vmean_cm_s"], cli["vmean_cm_s"])
    assert len(r.beats) > 3 and r.summary["epoch"][0] == "all"
    assert r.summary["mean_velocity_cm_s"][0] > 0 and r.summary["directional"][0] == 1
    assert r.nyquist_cm_s > 0


def test_stereo_array_and_options_match_the_command_line(recording, tmp_path):
    rec = dopflow.read_recording(recording["wav"])
    stereo = np.stack([rec.samples.real, rec.samples.imag], axis=1)  # left = I, right = Q
    r = dopflow.analyze(stereo, rec.rate_hz, wall_hz=40.0, vmax="percentile", percentile=0.9,
                        window="hamming", epochs=[("early", 0.0, 4.0), ("late", 4.0, 8.0)],
                        **acquisition(recording["meta"]))
    summary, beats = tmp_path / "s.csv", tmp_path / "b.csv"
    run("analyze", str(recording["wav"]), "--wall-hz", "40", "--vmax", "percentile", "--percentile", "0.9",
        "--window", "hamming", "--epochs", "early:0:4,late:4:8", "--summary", str(summary), "--beats", str(beats))
    assert r.csv["summary"] == summary.read_text()
    assert r.csv["beats"] == beats.read_text()
    assert list(r.summary["epoch"]) == ["early", "late"]


def test_swapped_channels_reverse_the_flow(recording):
    rec = dopflow.read_recording(recording["wav"])
    stereo = np.stack([rec.samples.real, rec.samples.imag], axis=1)
    meta = acquisition(recording["meta"])
    iq = dopflow.analyze(stereo, rec.rate_hz, **meta)
    qi = dopflow.analyze(stereo, rec.rate_hz, channels="qi", **meta)
    assert qi.summary["mean_velocity_cm_s"][0] == pytest.approx(-iq.summary["mean_velocity_cm_s"][0], rel=0.05)


def test_mono_is_one_sided(recording):
    rec = dopflow.read_recording(recording["wav"])
    r = dopflow.analyze(rec.samples.real.copy(), rec.rate_hz, **acquisition(recording["meta"]))
    assert r.summary["directional"][0] == 0
    assert (r.frames["vmax_reverse_cm_s"] == 0).all()


def test_errors_say_what_is_wrong(recording):
    rec = dopflow.read_recording(recording["wav"])
    with pytest.raises(dopflow.Error, match="f0"):
        dopflow.analyze(rec.samples, rec.rate_hz, angle_deg=60)
    with pytest.raises(dopflow.Error, match="unknown option 'wal_hz'"):
        dopflow.analyze(rec.samples, rec.rate_hz, f0_hz=5e6, angle_deg=60, wal_hz=3)
    with pytest.raises(dopflow.Error, match="vmax"):
        dopflow.analyze(rec.samples, rec.rate_hz, f0_hz=5e6, angle_deg=60, vmax="best")
    with pytest.raises(dopflow.Error):
        dopflow.analyze(rec.samples[:10], rec.rate_hz, f0_hz=5e6, angle_deg=60)
    with pytest.raises(dopflow.Error):
        dopflow.read_recording(recording["folder"] / "missing.wav")
    with pytest.raises(ValueError):
        dopflow.analyze(np.zeros((10, 3)), 1000.0, f0_hz=5e6, angle_deg=60)


def test_read_h5_matches_the_csv(recording):
    h5 = dopflow.read_h5(recording["h5"])
    cli = dopflow.read_csv(recording["csv"]["frames"])
    assert len(h5.frames) == len(cli) == h5.spectrogram.shape[0]
    assert h5.spectrogram.shape[1] == len(h5.velocity_cm_s)
    np.testing.assert_allclose(h5.frames["vmean_cm_s"], cli["vmean_cm_s"], atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(h5.frames["time_s"], cli["time_s"], atol=1e-4)
    beats = dopflow.read_csv(recording["csv"]["beats"])
    np.testing.assert_allclose(h5.beats["psv_cm_s"], beats["psv_cm_s"], atol=1e-3, equal_nan=True)
    assert "dopflow_version" in h5.attrs


def test_dataframe_when_pandas_is_present(recording):
    pytest.importorskip("pandas")
    r = dopflow.read_csv(recording["csv"]["beats"])
    df = dopflow.to_dataframe(r)
    assert list(df.columns) == list(r.dtype.names) and len(df) == len(r)


def test_pulsed_wave_gates_match_the_command_line(tmp_path):
    """Slow-time IQ with 4 gates per pulse (native HDF5), unwrapped as the command line does for IQ files."""
    h5 = tmp_path / "pw.h5"
    run("simulate", "datasets/examples/pulsed_wave_aliasing.json", "-o", str(h5), cwd=tmp_path)
    rec = dopflow.read_recording(h5)
    assert rec.samples.ndim == 2 and rec.samples.shape[1] == 4
    meta = json.loads(run("info", str(h5), "--json").stdout)["metadata"]
    r = dopflow.analyze(rec.samples, rec.rate_hz, unwrap="on", **acquisition(meta))
    summary = tmp_path / "s.csv"
    run("analyze", str(h5), "--summary", str(summary))  # unwrap: auto = on for IQ files
    assert r.csv["summary"] == summary.read_text()
    assert any("unwrapped" in q for q in r.frames["quality"])
