"""The pages' small decompositions run with one BLAS thread, and the process's own setting is left as it was."""

import numpy as np
import pytest

from vitviz.stages import linalg


def test_one_thread_inside_the_default_outside():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> list[int]:  # numpy's own BLAS (other packages, e.g. OpenCV, may bring one of their own)
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    before = blas_threads()
    with linalg.one_thread():
        assert blas_threads() and set(blas_threads()) == {1}
        x = np.random.default_rng(0).standard_normal((20, 30))
        s = np.linalg.svd(x, compute_uv=False)
    assert blas_threads() == before
    np.testing.assert_allclose(s, np.linalg.svd(x, compute_uv=False), rtol=1e-12)  # the same numbers either way
