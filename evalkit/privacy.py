"""Small-cell suppression: what a published table may show about families.

Reports go to donors, and no reader may single out a family from them. With
``publish=True`` every count from 1 to ``min_cell - 1`` (default 5) in a published
table or figure label is replaced by one mark, ``*``, and further cells are hidden
(*secondary suppression*) so that a hidden count cannot be worked out from the
totals. Study notebooks display every table through :func:`show` and write every
count in a figure or a sentence through :func:`count_label`; with ``publish=False``
(working drafts) both show everything.

The rules
---------
*Primary suppression.* A count ``n`` with ``1 <= n < min_cell`` is hidden. Zeros are
not sensitive ("no child was removed" singles nobody out) and are shown.

*Secondary suppression in a two-way table* (:func:`suppress_table`). The row and column
totals and the grand total are taken as known to the reader (they are published with
the table, or elsewhere). The totals are part of the table: a total that is itself
1..min_cell-1 is hidden, and the row of totals and the column of totals are lines like
any other. Then, as statistical offices do:

1. *Line rule* (repeated until nothing changes): a line (a row or a column, the totals
   included) that holds exactly one hidden cell would give it away by subtraction, so
   the smallest non-zero shown cell of that line is hidden too (ties: an inner cell
   before a total, then the first in row, column order). Rows are visited top to bottom,
   then columns left to right, and the passes repeat until stable.
2. *Cycle check.* The line rule is known to be insufficient: two blocks of hidden cells
   joined by a single hidden cell leave every line with two hidden cells, yet the
   joining cell can be computed. Writing the table with its totals as a bipartite graph
   (rows and columns are nodes, hidden cells are edges), a hidden cell can be computed
   from the shown ones exactly when its edge lies on no cycle of hidden edges (a
   *bridge*). Every bridge is closed into a cycle by hiding the cheapest path of
   non-zero cells between its row and its column (cost: the sum of the newly hidden
   counts, totals last) - such a path always exists, since the non-zero cells of an
   additive table form a circulation.

*Shares* (:func:`suppress_shares`, and the ``shares`` of :func:`show`). In a row "n of
d" (numerator, denominator, share and its confidence interval), the numerator and the
derived columns are hidden when ``1 <= n < min_cell`` **or** ``1 <= d - n < min_cell``
(a small complement singles families out as well: "3 of 40 children were removed" is
"37 of 40 stayed"); the denominator too (and so everything in the row) when
``1 <= d < min_cell``. Where a row is the total of other rows (an ``org == "all"`` row
per indicator and year), the numerators and the denominators of a group are two lines,
and the line rule above applies to each: a hidden numerator is never the only one
hidden in its group, so it cannot be recovered by subtracting the others from the total
(tests/test_privacy.py checks by brute force that every hidden non-zero count of a group
keeps at least two values consistent with what is shown).

*Long tables* (:func:`show` with ``counts``). Each count column is a line whose total is
taken as known: primary suppression, then the line rule within each column.

One mark for every hidden cell: primary and secondary cells look the same, so a reader
cannot tell which were 1-4 (the practice of the statistical offices). The footnote
(:func:`footnote`) says so in the report's language.

What the heuristic guarantees, and what it does not
---------------------------------------------------
For a two-way table with ``margins=True``, every hidden cell is non-zero and lies on a
cycle of hidden non-zero cells, so it can be moved by +1 and by -1 (moving the other
cells of the cycle by -1/+1) without breaking any shown cell, any total or
non-negativity: **no hidden cell is determined** by the published numbers, and its
feasible range (the minimum and maximum a reader can work out by linear programming)
contains ``value - 1`` and ``value + 1``. ``tests/test_privacy.py`` audits this with
:func:`scipy.optimize.linprog` on many random tables.

It does **not** guarantee a protection *interval*: a reader may narrow a hidden 3 to
"between 2 and 4" when the cells it is traded against are small (in the random tables of
the tests, about one small cell in a hundred can be narrowed to within 1..min_cell-1). It does not
minimise the number of hidden cells (the greedy choice can hide a 6-cycle where a
rectangle would do), and it knows only the relations it is told: the totals of a two-way
table, the column totals of a long table, a group's total row. Tables linked in other
ways (the same counts in two tables with different breakdowns, a count that is the sum
of two columns, a mean over 3 families) need the analyst's eye: suppress the finer table
and publish the coarser one from the same hidden pattern, or aggregate further.

References
----------
Government Statistical Service / ONS (2014), *Disclosure control guidance for tables
produced from administrative sources* - primary and secondary suppression of small
counts in frequency tables; the practice of England's children-in-need statistics.
Hundepool, A., Domingo-Ferrer, J., Franconi, L., Giessing, S., Schulte Nordholt, E.,
Spicer, K. and de Wolf, P.-P. (2012), *Statistical Disclosure Control*, Wiley, ch. 4
(secondary cell suppression, the audit of a suppression pattern by linear programming).

Examples
--------
>>> import pandas as pd
>>> from evalkit import privacy
>>> t = pd.DataFrame({"A": [10, 7, 6], "B": [2, 12, 11], "C": [8, 9, 15]}, index=["x", "y", "z"])
>>> s = privacy.suppress_table(t)
>>> s.display("en")
        A   B   C  total
x      10   *   *     20
y       *  12   *     28
z       *   *  15     32
total  23  25  32     80
>>> s.footnote("en")
'* hidden: fewer than 5, or it would let a hidden count be worked out'
>>> privacy.count_label(1234, publish=True, lang="en"), privacy.count_label(3, publish=True)
('1,234', '*')
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from evalkit.errors import DataError, UserError
from evalkit.labels import LANGS

__all__ = [
    "MARK",
    "MIN_CELL",
    "TOTAL",
    "SuppressedTable",
    "SuppressedFrame",
    "suppress_table",
    "suppress_shares",
    "count_label",
    "footnote",
    "show",
]

#: the one mark of every hidden cell, primary or secondary
MARK = "*"
#: the default threshold: counts 1..MIN_CELL-1 are hidden
MIN_CELL = 5
#: the label of the totals row and column in ``.mask``, ``.reason`` and ``.summary``
TOTAL = "total"
_TOTAL_LABEL = {"ru": "всего", "en": "total"}
_FOOTNOTE = {
    "ru": "{mark} — скрыто: меньше {min_cell} или позволило бы вычислить скрытое значение",
    "en": "{mark} hidden: fewer than {min_cell}, or it would let a hidden count be worked out",
}
#: Russian thousands separator: a non-breaking space (CLDR's for ru), so "1 234" never wraps
_RU_GROUP = "\u00a0"


# ----------------------------------------------------------------------------- validation

def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise UserError(f"язык/lang должен быть одним из {LANGS}, а не {lang!r}")


def _check_min_cell(min_cell) -> int:
    if isinstance(min_cell, (bool, np.bool_)) or not isinstance(min_cell, Integral) or min_cell < 2:
        raise UserError(f"min_cell должен быть целым числом не меньше 2 / min_cell must be an integer "
                        f"of at least 2, not {min_cell!r}")
    return int(min_cell)


def _check_publish(publish) -> bool:
    if not isinstance(publish, (bool, np.bool_)):
        raise UserError(f"publish должен быть True или False / publish must be True or False, not {publish!r}")
    return bool(publish)


def _counts(values: pd.Series, column) -> np.ndarray:
    """The column as int64 counts, or a :class:`DataError` naming the first bad row."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError("логический столбец — не число / a true/false column is not a count", column=column)
    raw = values
    if not pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            at = bad.to_numpy().nonzero()[0][0]
            raise DataError("не число / not a number", column=column, row=raw.index[at], value=raw.iloc[at])
    arr = values.to_numpy(dtype="float64", na_value=np.nan)
    problems = (
        (np.isnan(arr), "пропущенное значение: уберите или заполните строки / missing count: drop or fill the rows"),
        (~np.isnan(arr) & (arr != np.round(arr)), "не целое число / not a whole number"),
        (arr < 0, "отрицательное число / negative count"),
    )
    for bad, message in problems:
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise DataError(message, column=column, row=raw.index[at], value=raw.iloc[at])
    return arr.astype(np.int64)


def _count_matrix(frame: pd.DataFrame) -> np.ndarray:
    values = np.zeros(frame.shape, dtype=np.int64)
    for k, col in enumerate(frame.columns):
        values[:, k] = _counts(frame.iloc[:, k], col)
    return values


def _small(values: np.ndarray, min_cell: int) -> np.ndarray:
    return (values >= 1) & (values < min_cell)


# ----------------------------------------------------------------------------- results

@dataclass(eq=False)
class SuppressedFrame:
    """A table with the cells to hide when it is published.

    Attributes
    ----------
    frame : pandas.DataFrame
        The original table (a copy), every value shown.
    mask : pandas.DataFrame
        Bool, the shape of :meth:`table` (for a two-way table: with its totals): True
        where the cell is hidden.
    reason : pandas.DataFrame
        Object, same shape: ``"primary"`` (a small count), ``"secondary"`` (hidden so
        that a small count cannot be worked out) or ``""`` (shown).
    min_cell : int
        Counts ``1..min_cell-1`` were hidden.
    """

    frame: pd.DataFrame
    mask: pd.DataFrame
    reason: pd.DataFrame
    min_cell: int

    def table(self) -> pd.DataFrame:
        """Every value, unhidden, in the layout of :attr:`mask`."""
        return self.frame

    def _relabel(self, out: pd.DataFrame, lang: str) -> pd.DataFrame:
        return out

    def display(self, lang: str = "ru") -> pd.DataFrame:
        """The table as published: :data:`MARK` in every hidden cell, the rest unchanged.

        Columns with a hidden cell become object columns (numbers stay numbers); the
        footnote is in ``.attrs["footnote"]`` (empty when nothing is hidden).
        """
        _check_lang(lang)
        out = self.table().copy()
        for k, col in enumerate(out.columns):
            hidden = self.mask.iloc[:, k].to_numpy()
            if hidden.any():
                shown = out.iloc[:, k].astype(object).to_numpy()
                shown[hidden] = MARK
                out.isetitem(k, shown)
        out = self._relabel(out, lang)
        out.attrs["footnote"] = self.footnote(lang)
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """The hidden cells, one per row: ``row`` (index label), ``column``, ``value``, ``reason``."""
        full = self.table()
        rows, cols = np.nonzero(self.mask.to_numpy())
        return pd.DataFrame({
            "row": pd.Series([full.index[i] for i in rows], dtype=object),
            "column": pd.Series([full.columns[j] for j in cols], dtype=object),
            "value": pd.Series([full.iat[i, j] for i, j in zip(rows, cols)], dtype=object),
            "reason": pd.Series([self.reason.iat[i, j] for i, j in zip(rows, cols)], dtype=object),
        })

    def footnote(self, lang: str = "ru") -> str:
        """The footnote explaining the mark, or ``""`` when nothing is hidden."""
        _check_lang(lang)
        return footnote(self.min_cell, lang) if self.mask.to_numpy().any() else ""


@dataclass(eq=False)
class SuppressedTable(SuppressedFrame):
    """A two-way table of counts with the cells to hide (:func:`suppress_table`).

    ``frame`` (also ``counts``) is the table without totals; ``mask`` and ``reason`` have
    a :data:`TOTAL` row and column when ``margins`` is True; :meth:`display` shows them
    as "всего" / "total".
    """

    margins: bool = True

    @property
    def counts(self) -> pd.DataFrame:
        """The original counts (rows x columns, no totals)."""
        return self.frame

    def table(self) -> pd.DataFrame:
        """The counts (as integers) with their totals when ``margins``, every value shown."""
        values = _count_matrix(self.frame)
        return pd.DataFrame(_augment(values) if self.margins else values, index=self.mask.index,
                            columns=self.mask.columns)

    def _relabel(self, out: pd.DataFrame, lang: str) -> pd.DataFrame:
        if self.margins:
            out.index = _relabel_last(out.index, lang)
            out.columns = _relabel_last(out.columns, lang)
        return out


def footnote(min_cell: int = MIN_CELL, lang: str = "ru") -> str:
    """The footnote for the mark, for a table or a figure caption.

    >>> footnote(5, "ru")
    '* — скрыто: меньше 5 или позволило бы вычислить скрытое значение'
    """
    _check_lang(lang)
    return _FOOTNOTE[lang].format(mark=MARK, min_cell=_check_min_cell(min_cell))


# ----------------------------------------------------------------------------- two-way tables

def _augment(values: np.ndarray) -> np.ndarray:
    """The table with a column of row totals and a row of column totals (the grand total last)."""
    r, c = values.shape
    full = np.zeros((r + 1, c + 1), dtype=np.int64)
    full[:r, :c] = values
    full[:r, c] = values.sum(axis=1)
    full[r, :] = full[:r, :].sum(axis=0)
    return full


def _total_label(index: pd.Index, label: str = TOTAL):
    return (label,) + ("",) * (index.nlevels - 1) if isinstance(index, pd.MultiIndex) else label


def _with_total(index: pd.Index, what: str) -> pd.Index:
    for word in _TOTAL_LABEL.values():
        if _total_label(index, word) in index:
            raise UserError(f"в таблице уже есть {what} {word!r}: передайте таблицу без итогов / the table already "
                            f"has a {what} {word!r}: pass it without totals")
    label = _total_label(index)
    extra = (pd.MultiIndex.from_tuples([label], names=index.names) if isinstance(index, pd.MultiIndex)
             else pd.Index([label], dtype=object))
    return index.append(extra).set_names(index.names)


def _relabel_last(index: pd.Index, lang: str) -> pd.Index:
    labels = list(index)
    labels[-1] = _total_label(index, _TOTAL_LABEL[lang])
    if isinstance(index, pd.MultiIndex):
        return pd.MultiIndex.from_tuples(labels, names=index.names)
    return pd.Index(labels, dtype=object, name=index.name)


def _line_rule(values: np.ndarray, hidden: np.ndarray, is_total: np.ndarray, reason: np.ndarray) -> None:
    """Rows then columns, until stable: a line with one hidden cell hides its smallest non-zero shown cell."""
    nr, nc = values.shape
    changed = True
    while changed:
        changed = False
        lines = [(i, slice(None)) for i in range(nr)] + [(slice(None), j) for j in range(nc)]
        for line in lines:
            h = hidden[line]
            if h.sum() != 1:
                continue
            v, t = values[line], is_total[line]
            candidates = [p for p in range(len(v)) if not h[p] and v[p] > 0]
            if not candidates:   # the hidden cell is 0: nothing to protect (cannot happen for hidden n >= 1)
                continue
            p = min(candidates, key=lambda p: (v[p], t[p], p))
            cell = (line[0], p) if isinstance(line[0], int) else (p, line[1])
            hidden[cell], reason[cell], changed = True, "secondary", True


def _is_bridge(hidden: np.ndarray, i: int, j: int) -> bool:
    """Whether the hidden cell (i, j) lies on no cycle of hidden cells (then it can be computed)."""
    nr, nc = hidden.shape
    seen = np.zeros(nr + nc, dtype=bool)
    seen[i] = True
    queue = deque([i])
    while queue:
        u = queue.popleft()
        if u < nr:
            nxt = [(nr + jj, (u, jj)) for jj in np.flatnonzero(hidden[u])]
        else:
            nxt = [(ii, (ii, u - nr)) for ii in np.flatnonzero(hidden[:, u - nr])]
        for v, cell in nxt:
            if cell == (i, j) or seen[v]:
                continue
            if v == nr + j:
                return False
            seen[v] = True
            queue.append(v)
    return True


def _cheapest_path(values: np.ndarray, hidden: np.ndarray, is_total: np.ndarray, i: int, j: int):
    """The non-zero cells joining row i to column j (not through (i, j)) whose hiding costs least.

    Cost: the sum of the counts newly hidden, then the number of totals among them
    (Dijkstra; ties go to the lower node number, so the choice is deterministic).
    """
    nr, nc = values.shape
    start, target = i, nr + j
    dist = {start: (0, 0)}
    prev: dict[int, tuple[int, tuple[int, int]]] = {}
    done = set()
    heap = [((0, 0), start)]
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        if u == target:
            break
        if u < nr:
            nxt = [(nr + jj, (u, int(jj))) for jj in np.flatnonzero(values[u] > 0)]
        else:
            nxt = [(int(ii), (int(ii), u - nr)) for ii in np.flatnonzero(values[:, u - nr] > 0)]
        for v, cell in nxt:
            if cell == (i, j) or v in done:
                continue
            w = (0, 0) if hidden[cell] else (int(values[cell]), int(is_total[cell]))
            nd = (d[0] + w[0], d[1] + w[1])
            if v not in dist or nd < dist[v]:
                dist[v], prev[v] = nd, (u, cell)
                heapq.heappush(heap, (nd, v))
    if target not in done:
        return None
    path, v = [], target
    while v != start:
        v, cell = prev[v]
        path.append(cell)
    return path


def _protect(values: np.ndarray, hidden: np.ndarray, is_total: np.ndarray, reason: np.ndarray) -> None:
    """Secondary suppression of an additive table with its totals (in place): line rule, then cycle check."""
    while True:
        _line_rule(values, hidden, is_total, reason)
        bridge = next(((int(i), int(j)) for i, j in zip(*np.nonzero(hidden)) if _is_bridge(hidden, i, j)), None)
        if bridge is None:
            return
        path = _cheapest_path(values, hidden, is_total, *bridge)
        if path is None:  # pragma: no cover - impossible for a non-zero cell of an additive table
            raise AssertionError(f"no cycle through hidden cell {bridge}")
        for cell in path:
            if not hidden[cell]:
                hidden[cell], reason[cell] = True, "secondary"


def suppress_table(counts: pd.DataFrame, min_cell: int = MIN_CELL, *, margins: bool = True) -> SuppressedTable:
    """Hide the small counts of a two-way table, and the cells that would give them away.

    Parameters
    ----------
    counts : pandas.DataFrame
        Non-negative whole counts, rows x columns (e.g. ``pd.crosstab``), without totals.
    min_cell : int, default 5
        Counts ``1..min_cell-1`` are hidden (primary suppression); at least 2.
    margins : bool, default True
        The row totals, the column totals and the grand total are published (or known
        from elsewhere): they are protected like cells (a small total is hidden), every
        row and column, totals included, gets secondary suppression, and
        :meth:`SuppressedTable.display` shows them as a "всего" / "total" row and column.
        False only when no total of this table is published anywhere: then only the
        primary suppression applies.

    Returns
    -------
    SuppressedTable
        ``.mask`` / ``.reason`` (with the totals), ``.display(lang)``, ``.summary``,
        ``.footnote(lang)``.

    Raises
    ------
    evalkit.errors.UserError
        A count is negative, not a whole number, or missing; ``min_cell < 2``.

    Notes
    -----
    The rules, and what they guarantee, are in the module's docstring: primary
    suppression, the line rule, then the cycle check, so that no hidden cell can be
    computed from the shown cells and the totals.
    """
    min_cell = _check_min_cell(min_cell)
    if not isinstance(counts, pd.DataFrame):
        raise UserError(f"ожидается DataFrame / expected a DataFrame, not {type(counts).__name__}")
    values = _count_matrix(counts)
    if margins:
        full = _augment(values)
        index, columns = _with_total(counts.index, "строка/row"), _with_total(counts.columns, "столбец/column")
        is_total = np.zeros(full.shape, dtype=bool)
        is_total[-1, :] = is_total[:, -1] = True
    else:
        full, index, columns = values, counts.index, counts.columns
        is_total = np.zeros(full.shape, dtype=bool)
    hidden = _small(full, min_cell)
    reason = np.where(hidden, "primary", "").astype(object)
    if margins:
        _protect(full, hidden, is_total, reason)
    return SuppressedTable(frame=counts.copy(), mask=pd.DataFrame(hidden, index=index, columns=columns),
                           reason=pd.DataFrame(reason, index=index, columns=columns), min_cell=min_cell,
                           margins=bool(margins))


# ----------------------------------------------------------------------------- shares

def _share_rule(n: np.ndarray, d: np.ndarray, min_cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose numerator (and derived) / denominator are hidden: small n, small d - n, small d."""
    den = _small(d, min_cell)
    num = _small(n, min_cell) | _small(d - n, min_cell) | den
    return num, den


def _columns(frame: pd.DataFrame, names, what: str) -> list:
    names = [names] if isinstance(names, str) or not isinstance(names, (list, tuple)) else list(names)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise UserError(f"нет столбца / no {what} column {missing[0]!r}; есть/have {list(frame.columns)}")
    return names


def _numerator_denominator(frame: pd.DataFrame, numerator, denominator) -> tuple[np.ndarray, np.ndarray]:
    _columns(frame, [numerator, denominator], "numerator/denominator")
    n, d = _counts(frame[numerator], numerator), _counts(frame[denominator], denominator)
    over = n > d
    if over.any():
        at = int(np.flatnonzero(over)[0])
        raise DataError(f"числитель больше знаменателя / numerator larger than the denominator ({denominator!r} "
                        f"= {d[at]})", column=numerator, row=frame.index[at], value=n[at])
    return n, d


def _pick(candidates, key):
    return min(candidates, key=key) if candidates else None


def _group_rule(n, d, num, den, num_why, den_why, groups) -> None:
    """The line rule on each group's numerators and denominators (a group: rows and their total row)."""
    changed = True
    while changed:
        changed = False
        for pos, is_total in groups:
            if den[pos].sum() == 1:
                k = _pick([k for k in range(len(pos)) if not den[pos[k]] and d[pos[k]] > 0],
                          key=lambda k: (d[pos[k]], is_total[k], k))
                if k is not None:
                    den[pos[k]], den_why[pos[k]], changed = True, "secondary", True
            if num[pos].sum() == 1:
                # prefer a partner that can move both ways (0 < n < d), then the smallest
                k = _pick([k for k in range(len(pos)) if not num[pos[k]] and n[pos[k]] > 0],
                          key=lambda k: (n[pos[k]] >= d[pos[k]], n[pos[k]], is_total[k], k))
                if k is not None:
                    num[pos[k]], num_why[pos[k]], changed = True, "secondary", True


def _result(frame: pd.DataFrame, hidden: dict, why: dict, min_cell: int) -> SuppressedFrame:
    mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    reason = pd.DataFrame("", index=frame.index, columns=frame.columns, dtype=object)
    for col, h in hidden.items():
        k = frame.columns.get_loc(col)
        mask.isetitem(k, h)
        reason.isetitem(k, np.where(h, why[col], "").astype(object))
    return SuppressedFrame(frame=frame.copy(), mask=mask, reason=reason, min_cell=min_cell)


def _derived_reason(num, den, num_why, den_why) -> np.ndarray:
    primary = ((num_why == "primary") & num) | ((den_why == "primary") & den)
    return np.where(primary, "primary", "secondary").astype(object)


def suppress_shares(frame: pd.DataFrame, numerator: str, denominator: str, share=None,
                    min_cell: int = MIN_CELL, *, group_total: tuple | None = None,
                    by: list | None = None) -> SuppressedFrame:
    """Hide the small counts of an indicator table ("n of d", a share and its interval).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per indicator x year x organisation (say), with a numerator and a
        denominator column of whole counts and columns derived from them.
    numerator, denominator : str
        The count columns: ``numerator <= denominator`` in every row.
    share : str or list of str, optional
        The columns derived from the two counts (the share, the bounds of its
        confidence interval): hidden whenever the numerator or the denominator is.
        Default: every floating-point column of ``frame``.
    min_cell : int, default 5
        Counts ``1..min_cell-1`` are hidden; at least 2.
    group_total : (column, value), optional
        Rows with ``frame[column] == value`` are the sums of the other rows of their
        group (e.g. ``("org", "all")``): each group's numerators, and its
        denominators, get secondary suppression, so that no hidden count can be
        recovered by subtraction from the total.
    by : list of str, optional
        The columns that define a group (e.g. ``["indicator", "year"]``). Default: every
        column other than the numerator, the denominator, the derived columns and the
        ``group_total`` column.

    Returns
    -------
    SuppressedFrame
        ``.mask`` / ``.reason`` (the shape of ``frame``), ``.display(lang)``, ``.summary``,
        ``.footnote(lang)``.

    Notes
    -----
    In every row: the numerator and the derived columns are hidden when
    ``1 <= n < min_cell`` or ``1 <= d - n < min_cell``; the denominator too when
    ``1 <= d < min_cell``. Within a group, a line (the numerators, the denominators)
    with exactly one hidden cell also hides its smallest non-zero shown cell (a
    numerator with ``0 < n < d`` first, so the two can trade a child either way; an
    organisation's row before the total row), repeated until stable; a denominator
    hidden so hides its row's derived columns. Rows outside any group are taken as
    unrelated to each other.
    """
    min_cell = _check_min_cell(min_cell)
    if not isinstance(frame, pd.DataFrame):
        raise UserError(f"ожидается DataFrame / expected a DataFrame, not {type(frame).__name__}")
    n, d = _numerator_denominator(frame, numerator, denominator)
    if share is None:
        derived = [c for c in frame.columns if c not in (numerator, denominator)
                   and pd.api.types.is_float_dtype(frame[c].dtype)]
    else:
        derived = _columns(frame, share, "share")
    num, den = _share_rule(n, d, min_cell)
    num_why = np.where(num, "primary", "").astype(object)
    den_why = np.where(den, "primary", "").astype(object)
    if group_total is not None:
        if not isinstance(group_total, tuple) or len(group_total) != 2:
            raise UserError(f"group_total: ожидается (столбец, значение) / expected (column, value), "
                            f"e.g. ('org', 'all'), not {group_total!r}")
        column, total_value = group_total
        _columns(frame, [column], "group_total")
        keys = (_columns(frame, by, "by") if by is not None else
                [c for c in frame.columns if c not in {numerator, denominator, column, *derived}])
        is_total_row = (frame[column] == total_value).to_numpy()
        if keys:
            parts = frame.groupby(keys, sort=False, dropna=False).indices.values()
        else:
            parts = [np.arange(len(frame))]
        groups = []
        for pos in parts:
            pos = np.sort(np.asarray(pos))
            t = is_total_row[pos]
            if t.sum() > 1:
                raise DataError(f"в группе больше одной итоговой строки / more than one total row "
                                f"({column} == {total_value!r}) in a group", row=frame.index[pos[t][1]])
            if t.sum() == 1:
                groups.append((pos, t))
        _group_rule(n, d, num, den, num_why, den_why, groups)
    hidden = {numerator: num, denominator: den}
    why = {numerator: num_why, denominator: den_why}
    for col in derived:
        hidden[col], why[col] = num | den, _derived_reason(num, den, num_why, den_why)
    return _result(frame, hidden, why, min_cell)


# ----------------------------------------------------------------------------- long tables

def _suppress_long(table: pd.DataFrame, min_cell: int, counts, shares) -> SuppressedFrame:
    if not table.columns.is_unique:
        raise UserError("у таблицы повторяются названия столбцов / the table has duplicate column names")
    if counts is None:
        counts = [c for c in table.columns if pd.api.types.is_integer_dtype(table[c].dtype)
                  and not pd.api.types.is_bool_dtype(table[c].dtype)]
    counts = _columns(table, counts, "count")
    specs = []
    for key, pair in (shares or {}).items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise UserError(f"shares[{key!r}]: ожидается (числитель, знаменатель) / expected "
                            f"(numerator_column, denominator_column), not {pair!r}")
        specs.append((_columns(table, list(key) if isinstance(key, tuple) else key, "share"), *pair))
    values, hidden, why = {}, {}, {}
    for col in counts:
        values[col] = _counts(table[col], col)
        hidden[col] = _small(values[col], min_cell)
        why[col] = np.where(hidden[col], "primary", "").astype(object)
    for derived, num_col, den_col in specs:
        n, d = _numerator_denominator(table, num_col, den_col)
        num, den = _share_rule(n, d, min_cell)
        for col, v, h in ((num_col, n, num), (den_col, d, den)):
            values[col] = v
            old = hidden.get(col, np.zeros(len(v), dtype=bool))
            why[col] = np.where(h | old, "primary", "").astype(object)
            hidden[col] = h | old
    lines = list(values)
    changed = True
    while changed:
        changed = False
        for col in lines:   # a column total is known: a column with one hidden cell hides another
            h, v = hidden[col], values[col]
            if h.sum() == 1:
                candidates = np.flatnonzero(~h & (v > 0))
                if len(candidates):
                    p = candidates[np.lexsort((candidates, v[candidates]))[0]]
                    h[p], why[col][p], changed = True, "secondary", True
    for derived, num_col, den_col in specs:
        num, den = hidden[num_col], hidden[den_col]
        for col in derived:
            h = num | den
            r = _derived_reason(num, den, why[num_col], why[den_col])
            if col in hidden:   # a derived column that is also a count column: keep its own reasons
                r = np.where(why[col] == "primary", "primary", r)
                h = h | hidden[col]
            hidden[col], why[col] = h, r
    return _result(table, hidden, why, min_cell)


def show(table, *, publish: bool, min_cell: int = MIN_CELL, counts=None, shares=None,
         lang: str = "ru") -> pd.DataFrame:
    """The one way a notebook displays a table: everything in drafts, suppressed when published.

    Parameters
    ----------
    table : pandas.DataFrame, SuppressedTable or SuppressedFrame
        A long table (one row per category, count and share columns), or a result of
        :func:`suppress_table` (two-way tables) or :func:`suppress_shares` (indicator rows
        with a total row per group).
    publish : bool
        False: ``table`` is returned unchanged (a result: its original ``.frame``). True:
        the suppressed table.
    min_cell : int, default 5
        Counts ``1..min_cell-1`` are hidden. A result must have been made with the same.
    counts : list of str, optional
        The count columns of a long table: primary suppression, then secondary
        suppression against each column's total. Default: the integer-dtype columns
        (pass the list when an integer column is a code, such as a level 1-4; keys are
        best kept in the index).
    shares : dict, optional
        ``{share_column: (numerator_column, denominator_column)}``; the key may be a tuple
        of derived columns, e.g. ``{("share", "ci_low", "ci_high"): ("n", "d")}``. The
        rule of :func:`suppress_shares` (a small numerator, complement or denominator);
        the numerator and denominator columns also get the column-total secondary
        suppression, and the derived columns are hidden wherever either count is.
    lang : {"ru", "en"}, default "ru"
        The language of the footnote and of the totals' label.

    Returns
    -------
    pandas.DataFrame
        With ``publish=True``: :data:`MARK` in every hidden cell and the footnote in
        ``.attrs["footnote"]`` (``""`` when nothing is hidden) - print it under the table.
        Columns that are neither counts nor derived from them are shown as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"families": [40, 3, 12]}, index=["Москва", "Тверь", "Пермь"])
    >>> out = show(t, publish=True)
    >>> out["families"].tolist(), out.attrs["footnote"][:9]
    ([40, '*', '*'], '* — скрыт')
    >>> show(t, publish=False) is t
    True
    """
    publish = _check_publish(publish)
    min_cell = _check_min_cell(min_cell)
    _check_lang(lang)
    if isinstance(table, SuppressedFrame):
        if table.min_cell != min_cell:
            raise UserError(f"таблица скрыта с min_cell={table.min_cell}, а показ просит {min_cell} / the table was "
                            f"suppressed with min_cell={table.min_cell}, show was given {min_cell}")
        if counts is not None or shares is not None:
            raise UserError("counts/shares не нужны для готового результата / counts and shares do not apply to "
                            "a suppression result")
        return table.display(lang) if publish else table.frame
    if not isinstance(table, pd.DataFrame):
        raise UserError(f"ожидается DataFrame / expected a DataFrame, not {type(table).__name__}")
    if not publish:
        return table
    return _suppress_long(table, min_cell, counts, shares).display(lang)


# ----------------------------------------------------------------------------- labels

def count_label(n, *, publish: bool, min_cell: int = MIN_CELL, lang: str = "ru") -> str:
    """A count for a figure label or a sentence: :data:`MARK` when hidden, else the number.

    Parameters
    ----------
    n : int
        A non-negative whole count (an integral float, e.g. from a pandas sum, is accepted).
    publish : bool
        True: ``1 <= n < min_cell`` gives :data:`MARK` (put :func:`footnote` in the caption).
    min_cell : int, default 5
    lang : {"ru", "en"}, default "ru"
        Russian groups thousands with a non-breaking space (``"1 234"``), English with a
        comma (``"1,234"``).

    Notes
    -----
    A label only hides a small count; secondary suppression (totals in the same figure)
    is the caller's: label a figure from a :func:`show`-ed table.

    Examples
    --------
    >>> count_label(12345, publish=False, lang="en"), count_label(2, publish=False)
    ('12,345', '2')
    >>> count_label(12345, publish=True) == "12\\u00a0345"
    True
    """
    publish = _check_publish(publish)
    min_cell = _check_min_cell(min_cell)
    _check_lang(lang)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, Real) or not np.isfinite(n) or n != int(n) or n < 0:
        raise UserError(f"ожидается целое неотрицательное число / expected a non-negative whole count, not {n!r}")
    n = int(n)
    if publish and 1 <= n < min_cell:
        return MARK
    text = f"{n:,}"
    return text.replace(",", _RU_GROUP) if lang == "ru" else text
