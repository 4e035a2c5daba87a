"""pip install . — builds the C++ extension cvxnn._core with the project's CMake build (library and
extension only) and packages it with the pure-Python package in python/cvxnn.

Offline on Debian 12 (what scripts/setup.sh installs):
    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-index --no-build-isolation .
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).parent.resolve()


def project_version() -> str:
    """The version CMakeLists.txt declares (one place for C++, CLI and Python)."""
    match = re.search(r"project\(cvxnn VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    if not match:
        raise RuntimeError("setup.py: no 'project(cvxnn VERSION x.y.z' line in CMakeLists.txt")
    return match.group(1)


class CMakeExtension(Extension):
    def __init__(self, name: str):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures the CMake project with only the library and the extension, and builds the
    extension straight into the folder setuptools packages."""

    def build_extension(self, ext):
        package_dir = pathlib.Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
            "-DCVXNN_BUILD_TESTS=OFF", "-DCVXNN_BUILD_CLI=OFF", "-DCVXNN_BUILD_BENCH=OFF",
            "-DCVXNN_BUILD_PYTHON=ON", "-DCVXNN_COPY_PYTHON_PACKAGE=OFF",
            f"-DCVXNN_PYTHON_PACKAGE_DIR={package_dir}", f"-DPython3_EXECUTABLE={sys.executable}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        try:  # a pip-installed pybind11 (build isolation); Debian's pybind11-dev is found by CMake itself
            import pybind11
            configure.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "cvxnn_python_core",
                        "-j", str(os.cpu_count() or 1)], check=True)


setup(
    name="cvxnn",
    version=project_version(),
    description="Two-layer ReLU networks trained to their global optimum by convex optimisation, with a "
                "duality-gap certificate",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["cvxnn"],
    package_dir={"": "python"},
    ext_modules=[CMakeExtension("cvxnn._core")],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy>=1.21", "scikit-learn>=1.0"],
    extras_require={"torch": ["torch"], "examples": ["matplotlib", "torch"]},
    zip_safe=False,
)
