"""k-anonymity and l-diversity cross-checked against pycanon (Sáinz-Pardo Díaz & López García, 2022), an
independent implementation, on random tables.

pycanon pins exact old releases of numpy / pandas in its metadata, so `make test` installs it with
``--no-deps`` (its anonymity functions need only pandas and numpy). Off CI the test skips when pycanon is
missing; under CI=true it fails.
"""

from __future__ import annotations

import polars as pl
import pytest
from conftest import skip_or_fail
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mouselab.privacy.anonymity import check_k_anonymity

# pycanon groups by a one-element list, which pandas 3 warns about; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:In a future version, the keys of `groups`")

try:
    from pycanon import anonymity as pycanon_anonymity
except ImportError:  # pragma: no cover - depends on the environment
    pycanon_anonymity = None


@pytest.fixture(autouse=True)
def _need_pycanon():
    if pycanon_anonymity is None:
        skip_or_fail("pycanon is not installed (make test installs it: pip install --no-deps pycanon==1.3.6)")


tables = st.integers(min_value=1, max_value=40).flatmap(lambda n: st.fixed_dictionaries({
    "age_band": st.lists(st.sampled_from(["18-29", "30-44", "45-64"]), min_size=n, max_size=n),
    "device": st.lists(st.sampled_from(["mouse", "touchpad"]), min_size=n, max_size=n),
    "condition": st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n),
    "handedness": st.lists(st.sampled_from(["left", "right"]), min_size=n, max_size=n),
}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.sampled_from([["age_band"], ["age_band", "device"], ["age_band", "device", "condition"]]))
def test_k_and_l_agree_with_pycanon(columns, qi):
    frame = pl.DataFrame(columns)
    report = check_k_anonymity(frame, qi, k=2, sensitive=["handedness"], l=2)
    data = frame.to_pandas()
    assert report.smallest_class == pycanon_anonymity.k_anonymity(data, qi)
    assert report.lowest_diversity == pycanon_anonymity.l_diversity(data, qi, ["handedness"])


def test_a_hand_computed_table_agrees_with_pycanon():
    frame = pl.DataFrame({"age_band": ["18-29"] * 3 + ["30-44"] * 2, "device": ["mouse"] * 5,
                          "handedness": ["left", "right", "left", "right", "right"]})
    report = check_k_anonymity(frame, ["age_band", "device"], sensitive=["handedness"], l=2)
    assert (report.smallest_class, report.lowest_diversity) == (2, 1)  # by hand: classes of 3 and 2; {right}
    data = frame.to_pandas()
    assert pycanon_anonymity.k_anonymity(data, ["age_band", "device"]) == 2
    assert pycanon_anonymity.l_diversity(data, ["age_band", "device"], ["handedness"]) == 1
