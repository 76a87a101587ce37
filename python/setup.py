"""The dopflow Python package (ctypes over the installed libdopflow.so).

Build and install with setuptools alone (Debian: python3-setuptools), no network:
    python3 setup.py build && python3 setup.py install --prefix ~/.local
It needs libdopflow.so.0 on the loader's path (installed dopflow, or
DOPFLOW_LIBRARY=/path/to/libdopflow.so.0) and NumPy (python3-numpy); h5py
(python3-h5py) reads HDF5 results, pandas is optional."""
import os
import re

from setuptools import setup


def project_version():
    """The version of CMakeLists.txt (one home for it)."""
    cmake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "CMakeLists.txt")
    with open(cmake, encoding="utf-8") as f:
        return re.search(r"project\(dopflow VERSION ([0-9.]+)", f.read()).group(1)


setup(
    name="dopflow",
    version=project_version(),
    description="Doppler ultrasound blood-flow analysis: libdopflow from NumPy",
    packages=["dopflow"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    extras_require={"h5": ["h5py"], "pandas": ["pandas"]},
)
