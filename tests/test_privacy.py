"""Small-cell suppression (evalkit.privacy): hand-worked tables, an audit of the hidden
cells by linear programming, a brute-force check of group totals, labels and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from evalkit import privacy
from evalkit.errors import DataError, UserError
from evalkit.privacy import MARK, count_label, footnote, show, suppress_shares, suppress_table

NBSP = "\u00a0"


def hidden_cells(result) -> set:
    m = result.mask
    return {(m.index[i], m.columns[j]) for i, j in zip(*np.nonzero(m.to_numpy()))}


def cells_with(result, reason: str) -> set:
    r = result.reason
    return {(r.index[i], r.columns[j]) for i, j in zip(*np.nonzero((r == reason).to_numpy()))}


# ----------------------------------------------------------------------------- the LP audit

def feasible_ranges(full: np.ndarray, hidden: np.ndarray) -> dict:
    """For every hidden cell of a table with its totals (last row and column), the least and the
    greatest value consistent with the shown cells, the shown totals and non-negativity."""
    nr, nc = full.shape
    cells = [tuple(c) for c in np.argwhere(hidden)]
    at = {c: k for k, c in enumerate(cells)}
    lines = [[((i, j), 1) for j in range(nc - 1)] + [((i, nc - 1), -1)] for i in range(nr)]
    lines += [[((i, j), 1) for i in range(nr - 1)] + [((nr - 1, j), -1)] for j in range(nc)]
    a_eq, b_eq = [], []
    for line in lines:
        row, rhs = np.zeros(len(cells)), 0.0
        for cell, sign in line:
            if cell in at:
                row[at[cell]] += sign
            else:
                rhs -= sign * full[cell]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    out = {}
    for cell, k in at.items():
        c = np.zeros(len(cells))
        c[k] = 1
        lo = linprog(c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status in (0, 3), (lo.message, hi.message)
        out[cell] = (lo.fun, np.inf if hi.status == 3 else -hi.fun)
    return out


def test_the_lp_audit_catches_a_cell_that_the_line_rule_alone_leaves_recoverable():
    # two blocks of small cells joined by one small cell: every row and column has two or
    # more hidden cells, yet the joining cell (0, 2) = row total - the rest of its row
    t = np.array([[1, 2, 3, 20], [4, 1, 30, 25], [21, 30, 2, 3], [25, 22, 4, 1]])
    full = privacy._augment(t)
    hidden = privacy._small(full, 5)
    reason = np.where(hidden, "primary", "").astype(object)
    is_total = np.zeros(full.shape, dtype=bool)
    is_total[-1, :] = is_total[:, -1] = True
    privacy._line_rule(full, hidden, is_total, reason)
    assert (reason == "secondary").sum() == 0     # the line rule sees nothing wrong
    lo, hi = feasible_ranges(full, hidden)[(0, 2)]
    assert lo == pytest.approx(3) and hi == pytest.approx(3)

    s = suppress_table(pd.DataFrame(t))
    assert cells_with(s, "secondary") == {(0, 3)}   # the cycle check closes it: (0,3)-(2,3)-(2,2)-(0,2)
    lo, hi = feasible_ranges(s.table().to_numpy(), s.mask.to_numpy())[(0, 2)]
    assert lo <= 2 and hi >= 4


@st.composite
def count_tables(draw):
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    cell = st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 60))
    values = draw(st.lists(st.lists(cell, min_size=cols, max_size=cols), min_size=rows, max_size=rows))
    return pd.DataFrame(values), draw(st.sampled_from([2, 3, 5, 5, 5, 10]))


@settings(max_examples=150)
@given(count_tables())
def test_no_hidden_cell_can_be_worked_out_from_the_published_table(case):
    """The audit: for every hidden cell, minimise and maximise it subject to the shown cells,
    the shown totals and non-negativity. The heuristic promises value - 1 and value + 1 are
    both feasible (so the range is never a point); it does not promise a wider interval."""
    table, min_cell = case
    s = suppress_table(table, min_cell)
    full, hidden = s.table().to_numpy(), s.mask.to_numpy()
    small = (full >= 1) & (full < min_cell)
    assert (hidden >= small).all()                      # every small count and small total is hidden
    assert (full[hidden] > 0).all()                     # zeros are never the protection
    for line in [*hidden, *hidden.T]:                    # the line rule holds at the end
        assert line.sum() != 1
    for cell, (lo, hi) in feasible_ranges(full, hidden).items():
        value = full[cell]
        assert hi - lo > 0, f"hidden cell {cell} = {value} is determined"
        assert lo <= value - 1 + 1e-7 and hi >= value + 1 - 1e-7, (cell, value, lo, hi)


# ----------------------------------------------------------------------------- hand-worked tables

def test_one_small_cell_in_a_3x3_table():
    t = pd.DataFrame({"A": [10, 7, 6], "B": [2, 12, 11], "C": [8, 9, 15]}, index=["x", "y", "z"])
    s = suppress_table(t)
    # row x hides its smallest other cell C=8, column B hides z=11; then column C hides y=9,
    # row z hides A=6, row y hides A=7: a cycle of six cells, every total shown
    assert cells_with(s, "primary") == {("x", "B")}
    assert cells_with(s, "secondary") == {("x", "C"), ("z", "B"), ("y", "C"), ("z", "A"), ("y", "A")}
    assert not s.mask.loc["total"].any() and not s.mask["total"].any()
    assert s.summary.to_dict("list") == {
        "row": ["x", "x", "y", "y", "z", "z"], "column": ["B", "C", "A", "C", "A", "B"],
        "value": [2, 8, 7, 9, 6, 11],
        "reason": ["primary", "secondary", "secondary", "secondary", "secondary", "secondary"]}


def test_a_row_with_two_small_cells_needs_no_secondary_suppression():
    t = pd.DataFrame([[3, 4, 20], [2, 1, 30], [15, 16, 17]], columns=["a", "b", "c"])
    s = suppress_table(t)
    assert hidden_cells(s) == {(0, "a"), (0, "b"), (1, "a"), (1, "b")}
    assert cells_with(s, "secondary") == set()


def test_a_small_total_is_hidden_and_protected():
    t = pd.DataFrame([[1, 2, 0], [10, 12, 9], [8, 7, 11]], columns=["a", "b", "c"])
    s = suppress_table(t)
    assert cells_with(s, "primary") == {(0, "a"), (0, "b"), (0, "total")}   # the row total 3 is small
    # column a hides 8, column b hides 7, the column of row totals hides row 2's total 26
    assert cells_with(s, "secondary") == {(2, "a"), (2, "b"), (2, "total")}
    assert not s.mask.loc[0, "c"]                                          # a zero is shown
    shown = s.display("en")
    assert shown.loc[0].tolist() == [MARK, MARK, 0, MARK]
    assert shown.loc["total"].tolist() == [19, 21, 20, 60]


def test_a_count_alone_in_its_row_and_column_hides_the_totals_it_is_in():
    s = suppress_table(pd.DataFrame([[3, 0], [0, 9]]))
    assert s.display("en").to_numpy().tolist() == [[MARK, 0, MARK], [0, MARK, MARK], [MARK, MARK, 12]]


def test_without_margins_only_primary_suppression():
    t = pd.DataFrame({"A": [10.0, 7.0], "B": [2, 12]})
    s = suppress_table(t, margins=False)
    assert hidden_cells(s) == {(0, "B")} and s.mask.shape == (2, 2)
    shown = s.display()
    assert shown.columns.tolist() == ["A", "B"] and shown["A"].tolist() == [10, 7]
    assert shown["A"].dtype.kind == "i"                                       # whole floats become counts


def test_display_marks_hidden_cells_keeps_numbers_and_labels_totals_by_language():
    t = pd.crosstab(pd.Series(["a"] * 12 + ["b"] * 20, name="org"),
                    pd.Series(["x"] * 3 + ["y"] * 9 + ["x"] * 8 + ["y"] * 12, name="sex"))
    s = suppress_table(t)
    ru, en = s.display(), s.display("en")
    assert ru.index.tolist() == ["a", "b", "всего"] and ru.columns.tolist() == ["x", "y", "всего"]
    assert en.index.tolist()[-1] == "total" and en.columns.name == "sex" and en.index.name == "org"
    full = s.table()
    for i in range(3):
        for j in range(3):
            value = en.iat[i, j]
            if s.mask.iat[i, j]:
                assert value == MARK
            else:
                assert value == full.iat[i, j] and isinstance(value, (int, np.integer))
    assert ru.attrs["footnote"] == "* — скрыто: меньше 5 или позволило бы вычислить скрытое значение"
    assert en.attrs["footnote"] == "* hidden: fewer than 5, or it would let a hidden count be worked out"
    assert s.footnote("en") == footnote(5, "en")
    assert suppress_table(pd.DataFrame([[10, 20]])).footnote() == ""


def test_multiindex_tables_get_a_total_row():
    idx = pd.MultiIndex.from_tuples([("a", 2023), ("a", 2024), ("b", 2023)], names=["org", "year"])
    s = suppress_table(pd.DataFrame({"x": [3, 10, 12], "y": [8, 9, 20]}, index=idx))
    assert s.display("en").index[-1] == ("total", "")
    assert s.mask.loc[("a", 2023), "x"]


# ----------------------------------------------------------------------------- shares

def test_a_small_numerator_or_complement_hides_the_numerator_and_the_share():
    df = pd.DataFrame({
        "indicator": "removed", "org": ["a", "b", "c", "d", "e", "f"],
        "n": [3, 37, 20, 0, 40, 0], "d": [40, 40, 40, 40, 40, 3]})
    df["share"] = df["n"] / df["d"]
    df["ci_low"], df["ci_high"] = df["share"] - 0.1, df["share"] + 0.1
    s = suppress_shares(df, "n", "d")
    m = s.mask.set_index(df["org"])
    # a: 3 of 40; b: 37 of 40 is "3 were not"; c, d (0) and e (all 40) are safe; f: 0 of 3
    assert m["n"].to_dict() == {"a": True, "b": True, "c": False, "d": False, "e": False, "f": True}
    assert (m["share"] == m["n"]).all() and (m["ci_low"] == m["n"]).all() and (m["ci_high"] == m["n"]).all()
    assert m["d"].to_dict() == {"a": False, "b": False, "c": False, "d": False, "e": False, "f": True}
    assert not m[["indicator", "org"]].to_numpy().any()
    shown = s.display("en")
    assert shown.loc[1, "n"] == MARK and shown.loc[1, "d"] == 40 and shown.loc[2, "share"] == 0.5
    assert set(s.summary["column"]) == {"n", "d", "share", "ci_low", "ci_high"}


def feasible_values(n, d, n_hidden, d_hidden, total_n_hidden, total_d_hidden) -> dict:
    """Brute force over a group of rows and their total row (the sum): every value each hidden
    count can take given the shown counts, the shown totals and 0 <= n <= d in every row."""
    n, d = np.asarray(n), np.asarray(d)
    n_hidden, d_hidden = np.asarray(n_hidden, bool), np.asarray(d_hidden, bool)
    N, D, cap = n.sum(), d.sum(), int(d.sum()) + 2
    out = {}

    def grid(k):
        return np.indices((cap + 1,) * k).reshape(k, -1).T if k else np.zeros((1, 0), dtype=int)

    # the numerators: try every value of the hidden ones; the denominators must still fit
    hn = np.flatnonzero(n_hidden)
    nn = np.tile(n, (len(grid(len(hn))), 1))
    nn[:, hn] = grid(len(hn))
    ok = (nn[:, ~d_hidden] <= d[~d_hidden]).all(axis=1)
    if not total_n_hidden:
        ok &= nn.sum(axis=1) == N
    if not total_d_hidden:
        rest = D - d[~d_hidden].sum()
        ok &= (nn[:, d_hidden].sum(axis=1) <= rest) if d_hidden.any() else rest == 0
    out.update({("n", i): set(nn[ok, i].tolist()) for i in hn})
    if total_n_hidden:
        out[("n", "total")] = set(nn[ok].sum(axis=1).tolist())
    # the denominators: try every value of the hidden ones; the numerators must still fit
    hd = np.flatnonzero(d_hidden)
    dd = np.tile(d, (len(grid(len(hd))), 1))
    dd[:, hd] = grid(len(hd))
    ok = (n[~n_hidden] <= dd[:, ~n_hidden]).all(axis=1)
    if not total_d_hidden:
        ok &= dd.sum(axis=1) == D
    if not total_n_hidden:
        rest = N - n[~n_hidden].sum()
        ok &= ((rest >= 0) & (rest <= dd[:, n_hidden].sum(axis=1))) if n_hidden.any() else rest == 0
    out.update({("d", i): set(dd[ok, i].tolist()) for i in hd})
    if total_d_hidden:
        out[("d", "total")] = set(dd[ok].sum(axis=1).tolist())
    return out


def group_frame(n, d) -> pd.DataFrame:
    orgs = [f"org{i}" for i in range(len(n))] + ["all"]
    df = pd.DataFrame({"indicator": "home at closure", "year": 2024, "org": orgs,
                       "n": [*n, sum(n)], "d": [*d, sum(d)]})
    df["share"] = df["n"] / df["d"].where(df["d"] > 0)
    return df


def recoverable(df, s) -> dict:
    k = len(df) - 1
    nh, dh = s.mask["n"].to_numpy(), s.mask["d"].to_numpy()
    values = feasible_values(df["n"][:k], df["d"][:k], nh[:k], dh[:k], nh[k], dh[k])
    return {var: v for var, v in values.items() if len(v) == 1}


def test_a_hidden_numerator_cannot_be_recovered_from_the_all_row():
    df = group_frame([3, 20, 15], [40, 50, 30])
    alone = suppress_shares(df, "n", "d")
    assert alone.mask["n"].tolist() == [True, False, False, False]
    assert recoverable(df, alone) == {("n", 0): {3}}          # 38 - 20 - 15: the checker can fail

    s = suppress_shares(df, "n", "d", group_total=("org", "all"))
    assert s.mask["n"].tolist() == [True, False, True, False]   # the smallest partner: 15 of 30
    assert s.reason["n"].tolist() == ["primary", "", "secondary", ""]
    assert s.mask["share"].tolist() == [True, False, True, False]
    assert not s.mask["d"].any()
    assert recoverable(df, s) == {}
    assert feasible_values(df["n"][:3], df["d"][:3], [True, False, True], [False] * 3, False, False)[("n", 0)] \
        == set(range(19))


def test_the_partner_of_a_hidden_numerator_can_move_both_ways():
    df = group_frame([3, 7, 9], [40, 7, 30])
    s = suppress_shares(df, "n", "d", group_total=("org", "all"))
    # 9 of 30 rather than the smaller 7 of 7: with 7 of 7 a reader learns the hidden count is >= 3
    assert s.mask["n"].tolist() == [True, False, True, False]
    nh = s.mask["n"].to_numpy()
    assert 0 in feasible_values(df["n"][:3], df["d"][:3], nh[:3], [False] * 3, False, False)[("n", 0)]


def test_groups_are_taken_per_indicator_and_year():
    a = group_frame([3, 20, 15], [40, 50, 30])
    b = group_frame([10, 20, 15], [40, 50, 30]).assign(year=2025)
    s = suppress_shares(pd.concat([a, b], ignore_index=True), "n", "d", group_total=("org", "all"))
    assert s.mask["n"].tolist() == [True, False, True, False] + [False] * 4


def test_two_total_rows_in_a_group_are_an_error():
    df = group_frame([3, 20], [40, 50])
    with pytest.raises(DataError, match="total row"):
        suppress_shares(pd.concat([df, df.tail(1)], ignore_index=True), "n", "d", group_total=("org", "all"))


@st.composite
def groups(draw):
    k = draw(st.integers(2, 3))
    d = draw(st.lists(st.integers(0, 9), min_size=k, max_size=k))
    n = [draw(st.integers(0, x)) for x in d]
    return n, d


@settings(max_examples=120)
@given(groups())
def test_no_hidden_count_of_a_group_can_be_worked_out_by_arithmetic(case):
    """Brute force: each hidden non-zero numerator or denominator has at least two values
    consistent with everything shown (a hidden zero may be pinned: zeros are not sensitive)."""
    n, d = case
    df = group_frame(n, d)
    s = suppress_shares(df, "n", "d", group_total=("org", "all"))
    truth = {("n", i): v for i, v in enumerate(n)} | {("d", i): v for i, v in enumerate(d)}
    truth |= {("n", "total"): sum(n), ("d", "total"): sum(d)}
    for var, values in recoverable(df, s).items():
        assert truth[var] == 0, f"hidden {var} = {values} is determined"
    hidden = s.mask[["n", "d"]].to_numpy()
    small = df[["n", "d"]].to_numpy()
    assert hidden[(small >= 1) & (small < 5)].all()
    assert (s.mask["share"] == (s.mask["n"] | s.mask["d"])).all()


# ----------------------------------------------------------------------------- show

def test_show_hides_nothing_when_not_publishing():
    t = pd.DataFrame({"families": [40, 3, 1], "share": [0.5, 0.1, 0.2]}, index=["a", "b", "c"])
    assert show(t, publish=False) is t
    res = suppress_table(pd.DataFrame([[1, 2], [3, 4]]))
    assert show(res, publish=False) is res.frame
    assert MARK not in show(res, publish=False).to_numpy()


def test_show_long_table_counts_against_the_column_total():
    t = pd.DataFrame({"families": [40, 3, 12, 30], "mean_age": [7.5, 8.0, 6.1, 9.0], "year": 2024},
                     index=["Москва", "Тверь", "Пермь", "Казань"])
    out = show(t, publish=True, counts=["families"])
    assert out["families"].tolist() == [40, MARK, MARK, 30]     # 12 hidden: else 3 = 85 - 40 - 12 - 30
    assert out["mean_age"].tolist() == t["mean_age"].tolist() and out["year"].tolist() == [2024] * 4
    assert out.attrs["footnote"].startswith("* — скрыто: меньше 5")
    default = show(t, publish=True, lang="en")                   # integer columns: families and year
    assert default["families"].tolist() == [40, MARK, MARK, 30] and default["year"].tolist() == [2024] * 4
    assert show(t.assign(families=[40, 50, 12, 30]), publish=True).attrs["footnote"] == ""


def test_show_shares_use_the_complement_rule():
    t = pd.DataFrame({"n": [37, 20, 18], "d": [40, 40, 40]})
    t["share"], t["ci_low"] = t["n"] / t["d"], t["n"] / t["d"] - 0.1
    out = show(t, publish=True, shares={("share", "ci_low"): ("n", "d")})
    # 37 of 40 hides n (3 were not); the n column then hides 18, the smallest other
    assert out["n"].tolist() == [MARK, 20, MARK]
    assert out["share"].tolist() == [MARK, 0.5, MARK] and out["ci_low"].tolist()[0::2] == [MARK, MARK]
    assert out["d"].tolist() == [40, 40, 40]


def test_show_passes_results_through_and_checks_min_cell():
    res = suppress_shares(group_frame([3, 20, 15], [40, 50, 30]), "n", "d", group_total=("org", "all"))
    assert show(res, publish=True, lang="en")["n"].tolist() == [MARK, 20, MARK, 38]
    with pytest.raises(UserError, match="min_cell"):
        show(res, publish=True, min_cell=10)


# ----------------------------------------------------------------------------- labels

@pytest.mark.parametrize("n, lang, publish, expected", [
    (1234, "ru", True, f"1{NBSP}234"),
    (12345678, "ru", False, f"12{NBSP}345{NBSP}678"),
    (1234, "en", True, "1,234"),
    (999, "ru", True, "999"),
    (0, "ru", True, "0"),
    (5, "ru", True, "5"),
    (4, "ru", True, MARK),
    (1, "en", True, MARK),
    (4, "en", False, "4"),
    (np.int64(3), "ru", True, MARK),
    (3.0, "en", False, "3"),
])
def test_count_label(n, lang, publish, expected):
    assert count_label(n, publish=publish, lang=lang) == expected


def test_count_label_respects_min_cell():
    assert count_label(9, publish=True, min_cell=10) == MARK
    assert count_label(10, publish=True, min_cell=10) == "10"


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("values, match", [
    ([[1, -2], [3, 4]], "negative"),
    ([[1, 2.5], [3, 4]], "whole number"),
    ([[1, np.nan], [3, 4]], "missing"),
    ([[1, "two"], [3, 4]], "not a number"),
])
def test_bad_counts_are_user_errors(values, match):
    with pytest.raises(UserError, match=match):
        suppress_table(pd.DataFrame(values))


@pytest.mark.parametrize("min_cell", [1, 0, -5, 2.5, True, "5"])
def test_min_cell_must_be_an_integer_of_at_least_2(min_cell):
    with pytest.raises(UserError, match="min_cell"):
        suppress_table(pd.DataFrame([[1, 2]]), min_cell)
    with pytest.raises(UserError, match="min_cell"):
        count_label(3, publish=True, min_cell=min_cell)


def test_other_mistakes_are_user_errors():
    with pytest.raises(UserError, match="numerator larger"):
        suppress_shares(pd.DataFrame({"n": [5], "d": [4]}), "n", "d")
    with pytest.raises(UserError, match="no numerator/denominator column"):
        suppress_shares(pd.DataFrame({"n": [5]}), "n", "d")
    with pytest.raises(UserError, match="already has"):
        suppress_table(pd.DataFrame({"a": [1], "total": [1]}))
    with pytest.raises(UserError, match="publish"):
        show(pd.DataFrame({"a": [1]}), publish="yes")
    with pytest.raises(UserError, match="lang"):
        count_label(3, publish=False, lang="de")
    for bad in (-1, 2.5, "3", True, float("nan")):
        with pytest.raises(UserError):
            count_label(bad, publish=False)
    with pytest.raises(UserError, match="whole number"):
        show(pd.DataFrame({"n": [1.5, 2.0], "d": [3, 4], "s": [0.5, 0.5]}), publish=True, shares={"s": ("n", "d")})
