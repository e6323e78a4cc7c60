"""The canonical-table schemas and the cross-table rules (evalkit.schemas).

A small hand-built dataset keeps the contract (zero problems); each test breaks a copy
of it in exactly one way and checks that exactly that rule fires on exactly that row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from evalkit import labels, schemas

T = pd.Timestamp
NA = pd.NA


def _bool(*values) -> pd.Series:
    return pd.array(values, dtype="boolean")


def _dates(*values) -> pd.Series:
    return pd.to_datetime(list(values))


def make_dataset() -> dict[str, pd.DataFrame]:
    """Three families, four children, three cases and their records; all valid."""
    families = pd.DataFrame({
        "family_id": ["F1", "F2", "F3"],
        "org": ["A", "A", "B"],
        "region": ["Moscow", None, "Moscow region"],
        "household": ["single_mother", "two_parents", None],
        "parent_mental_illness": _bool(True, False, NA),
        "parent_intellectual_disability": _bool(False, False, NA),
        "parent_substance_use": _bool(False, True, NA),
        "parent_orphan_background": _bool(True, False, False),
        "prior_removal": _bool(True, False, NA),
        "no_registration": _bool(False, False, True),
        "housing_at_intake": ["rented", "own", None],
        "stable_income_at_intake": _bool(False, True, NA),
        "rights_status_at_intake": ["restricted", "none", None],
    })
    children = pd.DataFrame({
        "child_id": ["C1", "C2", "C3", "C4"],
        "family_id": ["F1", "F1", "F2", "F3"],
        "sex": ["female", "male", None, "female"],
        "birth_month": _dates("2015-03-01", "2017-11-01", "2019-01-01", None),
        "disability": _bool(False, True, NA, False),
    })
    cases = pd.DataFrame({
        "case_id": ["K1", "K2", "K3"],
        "family_id": ["F1", "F2", "F3"],
        "org": ["A", "A", "B"],
        "opened": _dates("2019-01-10", "2020-02-01", "2019-05-01"),
        "closed": _dates("2020-06-30", None, "2019-05-01"),
        "support": ["complex", "complex", "one_off"],
        "case_type": ["ordinary", "palliative", None],
        "closure": ["success", "ongoing", "redirected"],
        "crisis_centre": _bool(True, False, NA),
        "case_manager": ["m7f3a", "m7f3a", None],
    })
    assessments = pd.DataFrame({
        "child_id": ["C1", "C1", "C3", "C2"],
        "case_id": ["K1", "K1", "K2", "K1"],
        "date": _dates("2019-01-15", "2020-06-20", "2020-02-10", "2019-01-15"),
        "timepoint": ["intake", "closure", "intake", "intake"],
        "instrument": ["efo", "efo", "efo", "efo"],
        "domain": ["housing", "housing", "health", "safety"],
        "score": np.array([2, 3, 1, 4], dtype="int64"),
    })
    events = pd.DataFrame({
        "child_id": ["C1", "C1", "C4", "C4"],
        "date": _dates("2018-05-01", "2018-09-01", "2020-03-01", "2019-10-01"),
        "event": ["removal", "return_home", "died", "moved_away"],
        "source": ["official", "case_record", "official", "volunteer"],
    })
    contacts = pd.DataFrame({
        "child_id": ["C1", "C3", "C2"],
        "date": _dates("2020-12-30", "2021-03-01", "2020-06-30"),
        "living_with_family": _bool(True, True, False),
        "safe": _bool(True, NA, NA),
        "source": ["followup_visit", "parent", "closure_report"],
    })
    services = pd.DataFrame({
        "case_id": ["K1", "K1", "K2"],
        "date": _dates("2019-02-01", "2019-03-01", "2020-03-01"),
        "service": ["case_work", "material", "crisis_housing"],
        "amount_rub": [np.nan, 5000.0, 12000.0],
    })
    costs = pd.DataFrame({
        "org": ["A", "A", "B"],
        "project": ["P1", "P1", "P2"],
        "year": np.array([2019, 2020, 2019], dtype="int64"),
        "expenses_rub": [1_000_000.0, 1_200_000.5, 500_000.0],
    })
    return dict(families=families, children=children, cases=cases, assessments=assessments,
                events=events, contacts=contacts, services=services, costs=costs)


@pytest.fixture
def dataset() -> dict[str, pd.DataFrame]:
    return make_dataset()


def found(problems: pd.DataFrame) -> set[tuple]:
    """The (table, row, column, rule) of every problem."""
    assert list(problems.columns) == schemas.PROBLEM_COLUMNS
    return set(zip(problems["table"], problems["row"], problems["column"], problems["rule"]))


# ------------------------------------------------------------------------ the valid dataset


def test_fixture_keeps_the_contract(dataset):
    problems = schemas.validate_dataset(dataset)
    assert problems.empty, problems.to_string()
    for name, df in dataset.items():
        assert schemas.validate_table(name, df) is not None


def test_tables_and_keys():
    assert list(schemas.TABLES) == [
        "families", "children", "cases", "assessments", "events", "contacts", "services",
        "costs"]
    assert schemas.KEYS == {
        "families": ["family_id"],
        "children": ["child_id"],
        "cases": ["case_id"],
        "assessments": ["child_id", "instrument", "domain", "date", "timepoint"],
        "events": ["child_id", "date", "event"],
        "contacts": ["child_id", "date", "source"],
        "services": [],
        "costs": ["org", "project", "year"],
    }


def test_fixture_covers_every_column(dataset):
    for name in schemas.TABLES:
        assert list(dataset[name].columns) == list(schemas.schema(name).columns)


@pytest.mark.parametrize("name", list(schemas.TABLES))
def test_empty_table_is_valid(name):
    empty = schemas.empty_table(name)
    assert len(empty) == 0
    assert list(empty.columns) == list(schemas.schema(name).columns)
    assert schemas.table_problems(name, empty).empty
    assert schemas.validate_table(name, empty).shape == (0, len(empty.columns))


def test_empty_table_dtypes():
    cases = schemas.empty_table("cases").dtypes.astype(str).to_dict()
    assert cases["case_id"] == "object"
    assert cases["opened"] == "datetime64[ns]"
    assert cases["crisis_centre"] == "boolean"
    assert schemas.empty_table("assessments")["score"].dtype == "int64"
    assert schemas.empty_table("services")["amount_rub"].dtype == "float64"


def test_vocabularies_come_from_labels():
    cols = schemas.schema("families").columns
    assert cols["household"].checks[0].statistics["allowed_values"] == labels.codes("household")
    cols = schemas.schema("contacts").columns
    assert cols["source"].checks[0].statistics["allowed_values"] == list(labels.CONTACT_SOURCES)
    cols = schemas.schema("assessments").columns
    assert cols["score"].checks[0].statistics["allowed_values"] == labels.codes("level") == [1, 2, 3, 4]


def test_validate_table_raises_lazily_with_every_failure(dataset):
    families = dataset["families"].copy()
    families.loc[0, "household"] = "single mom"
    families.loc[2, "org"] = None
    with pytest.raises(pa.errors.SchemaErrors) as err:
        schemas.validate_table("families", families)
    fc = err.value.failure_cases
    assert set(fc["column"]) == {"household", "org"}
    with pytest.raises(pa.errors.SchemaError):
        schemas.validate_table("families", families, lazy=False)


def test_unknown_table_is_an_error_not_a_silent_pass():
    with pytest.raises(KeyError):
        schemas.table_problems("parents", pd.DataFrame())


def test_unknown_table_in_a_dataset_is_a_problem(dataset):
    dataset["mothers"] = pd.DataFrame({"name": ["x"]})
    assert found(schemas.validate_dataset(dataset)) == {("mothers", None, None, "unknown_table")}


def test_missing_tables_are_skipped(dataset):
    del dataset["families"], dataset["cases"]
    assert schemas.validate_dataset(dataset).empty
    assert schemas.check_dataset({}).empty


# ------------------------------------------------------------------------ one test per rule


def _set(table, row, column, value):
    def breaker(ds):
        ds[table].loc[row, column] = value
    return breaker


def _set_rows(table, row, **values):
    def breaker(ds):
        for column, value in values.items():
            ds[table].loc[row, column] = value
    return breaker


def _append_copy(table, row, label=10):
    def breaker(ds):
        df = ds[table]
        ds[table] = pd.concat([df, df.loc[[row]].set_axis([label])])
    return breaker


def _with(table, fn):
    def breaker(ds):
        ds[table] = fn(ds[table])
    return breaker


def _one_text_date(df):
    date = df["date"].astype(object)
    date[1] = "12 марта 2020"
    return df.assign(date=date)


COLUMN_RULES = {
    # rule "required": a REQUIRED column left empty
    "required_org": (_set("families", 2, "org", None), {("families", 2, "org", "required")}),
    "required_opened": (_set("cases", 0, "opened", pd.NaT), {("cases", 0, "opened", "required")}),
    "required_closure": (_set("cases", 2, "closure", None),
                         {("cases", 2, "closure", "required")}),
    "required_living_with_family": (_set("contacts", 1, "living_with_family", NA),
                                    {("contacts", 1, "living_with_family", "required")}),
    "required_event_source": (_set("events", 3, "source", None),
                              {("events", 3, "source", "required")}),
    # rule "allowed_values": a code outside the vocabulary
    "vocab_household": (_set("families", 0, "household", "single mom"),
                        {("families", 0, "household", "allowed_values")}),
    "vocab_case_type": (_set("cases", 1, "case_type", "palliativ"),
                        {("cases", 1, "case_type", "allowed_values")}),
    "vocab_sex": (_set("children", 1, "sex", "M"), {("children", 1, "sex", "allowed_values")}),
    "vocab_event": (_set("events", 1, "event", "adopted"),
                    {("events", 1, "event", "allowed_values")}),
    "vocab_contact_source_not_a_contact_source": (
        _set("contacts", 2, "source", "official"),
        {("contacts", 2, "source", "allowed_values")}),
    "vocab_service": (_set("services", 1, "service", "money"),
                      {("services", 1, "service", "allowed_values")}),
    "score_0": (_set("assessments", 1, "score", 0),
                {("assessments", 1, "score", "allowed_values")}),
    "score_5": (_set("assessments", 3, "score", 5),
                {("assessments", 3, "score", "allowed_values")}),
    # rule "duplicate_key": every row sharing the key is reported
    "duplicate_family_id": (_append_copy("families", 0),
                            {("families", 0, "family_id", "duplicate_key"),
                             ("families", 10, "family_id", "duplicate_key")}),
    "duplicate_case_id": (_set("cases", 2, "case_id", "K2"),
                          {("cases", 1, "case_id", "duplicate_key"),
                           ("cases", 2, "case_id", "duplicate_key")}),
    "duplicate_event": (_append_copy("events", 0),
                        {("events", 0, "child_id, date, event", "duplicate_key"),
                         ("events", 10, "child_id, date, event", "duplicate_key")}),
    "duplicate_assessment": (  # same child, instrument, domain, date, timepoint as row 0
        _set_rows("assessments", 3, child_id="C1", domain="housing"),
        {("assessments", 0, "child_id, instrument, domain, date, timepoint", "duplicate_key"),
         ("assessments", 3, "child_id, instrument, domain, date, timepoint", "duplicate_key")}),
    "duplicate_contact": (
        _set_rows("contacts", 2, child_id="C1", date=T("2020-12-30"), source="followup_visit"),
        {("contacts", 0, "child_id, date, source", "duplicate_key"),
         ("contacts", 2, "child_id, date, source", "duplicate_key")}),
    "duplicate_cost": (_set("costs", 1, "year", 2019),
                       {("costs", 0, "org, project, year", "duplicate_key"),
                        ("costs", 1, "org, project, year", "duplicate_key")}),
    # table checks
    "birth_month_mid_month": (_set("children", 0, "birth_month", T("2015-03-15")),
                              {("children", 0, "birth_month", "first_of_month")}),
    "birth_month_with_time": (_set("children", 1, "birth_month", T("2017-11-01 10:30")),
                              {("children", 1, "birth_month", "first_of_month")}),
    "closed_before_opened": (_set("cases", 2, "closed", T("2019-04-01")),
                             {("cases", 2, "closed", "closed_after_opened")}),
    "ongoing_with_closed_date": (_set("cases", 0, "closure", "ongoing"),
                                 {("cases", 0, "closure", "ongoing_iff_open")}),
    "closed_outcome_without_date": (_set("cases", 1, "closure", "success"),
                                    {("cases", 1, "closure", "ongoing_iff_open")}),
    # rule "range"
    "negative_amount": (_set("services", 2, "amount_rub", -5.0),
                        {("services", 2, "amount_rub", "range")}),
    "negative_expenses": (_set("costs", 2, "expenses_rub", -1.0),
                          {("costs", 2, "expenses_rub", "range")}),
    "year_1989": (_set("costs", 0, "year", 1989), {("costs", 0, "year", "range")}),
    "year_2101": (_set("costs", 2, "year", 2101), {("costs", 2, "year", "range")}),
    # strict columns
    "extra_column_mother_name": (
        _with("families", lambda df: df.assign(mother_name=["Иванова", "Петрова", None])),
        {("families", None, "mother_name", "unexpected_column")}),
    "extra_column_exact_birth_date": (
        _with("children", lambda df: df.assign(birth_date=df["birth_month"])),
        {("children", None, "birth_date", "unexpected_column")}),
    "missing_column": (_with("families", lambda df: df.drop(columns="region")),
                       {("families", None, "region", "missing_column")}),
    "duplicate_column_name": (_with("families", lambda df: pd.concat([df, df[["org"]]], axis=1)),
                              {("families", None, "org", "duplicate_column")}),
    # rule "dtype"
    "numpy_bool_instead_of_nullable_boolean": (
        _with("contacts", lambda df: df.assign(living_with_family=[True, True, False])),
        {("contacts", None, "living_with_family", "dtype")}),
    "float_score": (_with("assessments", lambda df: df.assign(score=df["score"] * 1.0)),
                    {("assessments", None, "score", "dtype")}),
    "float_year": (_with("costs", lambda df: df.assign(year=df["year"].astype(float))),
                   {("costs", None, "year", "dtype")}),
    "tz_aware_dates": (_with("cases", lambda df: df.assign(opened=df["opened"].dt.tz_localize("UTC"))),
                       {("cases", None, "opened", "dtype")}),
    "text_date": (_with("events", _one_text_date), {("events", 1, "date", "dtype")}),
    "number_in_string_column": (_set_rows("cases", 2, case_manager=12345),
                                {("cases", 2, "case_manager", "dtype")}),
}

CROSS_RULES = {
    "child_family_exists": (_set("children", 3, "family_id", "F9"),
                            {("children", 3, "family_id", "child_family_exists")}),
    "case_family_exists": (_set("cases", 2, "family_id", "F9"),
                           {("cases", 2, "family_id", "case_family_exists")}),
    "assessment_child_exists": (_set("assessments", 2, "child_id", "C9"),
                                {("assessments", 2, "child_id", "assessment_child_exists")}),
    "assessment_case_exists": (_set("assessments", 2, "case_id", "K9"),
                               {("assessments", 2, "case_id", "assessment_case_exists")}),
    "assessment_case_matches_family": (
        _set("assessments", 2, "case_id", "K1"),  # C3 is in F2; K1 is F1's case
        {("assessments", 2, "case_id", "assessment_case_matches_family")}),
    "event_child_exists": (_set("events", 0, "child_id", "C9"),
                           {("events", 0, "child_id", "event_child_exists")}),
    "contact_child_exists": (_set("contacts", 1, "child_id", "C9"),
                             {("contacts", 1, "child_id", "contact_child_exists")}),
    "service_case_exists": (_set("services", 2, "case_id", "K9"),
                            {("services", 2, "case_id", "service_case_exists")}),
    "event_before_birth": (_set("events", 0, "date", T("2015-02-28")),
                           {("events", 0, "date", "event_within_life")}),
    "event_after_death": (_set("events", 3, "date", T("2020-05-01")),
                          {("events", 3, "date", "event_within_life")}),
    "contact_before_birth": (_set("contacts", 1, "date", T("2018-12-31")),
                             {("contacts", 1, "date", "contact_within_life")}),
    "service_before_case_opened": (_set("services", 0, "date", T("2019-01-09")),
                                   {("services", 0, "date", "service_within_case")}),
    "service_after_case_closed": (_set("services", 1, "date", T("2020-07-01")),
                                  {("services", 1, "date", "service_within_case")}),
    "service_before_open_case": (_set("services", 2, "date", T("2020-01-31")),
                                 {("services", 2, "date", "service_within_case")}),
}


@pytest.mark.parametrize("breaker, expected", COLUMN_RULES.values(), ids=COLUMN_RULES.keys())
def test_column_rule(dataset, breaker, expected):
    breaker(dataset)
    problems = schemas.validate_dataset(dataset)
    assert found(problems) == expected, problems.to_string()
    assert problems["message"].str.len().gt(10).all()
    table = next(iter(expected))[0]
    assert found(schemas.table_problems(table, dataset[table])) == expected


@pytest.mark.parametrize("breaker, expected", CROSS_RULES.values(), ids=CROSS_RULES.keys())
def test_cross_table_rule(dataset, breaker, expected):
    breaker(dataset)
    assert found(schemas.validate_dataset(dataset)) == expected
    problems = schemas.check_dataset(dataset)
    assert found(problems) == expected, problems.to_string()
    assert problems["message"].str.len().gt(10).all()


def test_every_rule_has_a_test():
    assert set(schemas.CROSS_TABLE_RULES) == {
        rule for _, expected in CROSS_RULES.values() for *_, rule in expected}
    column_rules = {rule for _, expected in COLUMN_RULES.values() for *_, rule in expected}
    assert column_rules == set(schemas.TABLE_RULES) == {
        "required", "allowed_values", "duplicate_key", "first_of_month", "closed_after_opened",
        "ongoing_iff_open", "range", "unexpected_column", "missing_column", "duplicate_column",
        "dtype"}


def test_problem_values_and_messages(dataset):
    dataset["families"].loc[0, "household"] = "single mom"
    dataset["costs"].loc[0, "year"] = 1989
    dataset["children"].loc[0, "birth_month"] = T("2015-03-15")
    dataset["children"].loc[3, "family_id"] = "F9"
    p = schemas.validate_dataset(dataset).set_index("rule")
    assert p.loc["allowed_values", "value"] == "single mom"
    assert "single_mother" in p.loc["allowed_values", "message"]
    assert p.loc["range", "value"] == "1989"
    assert p.loc["range", "message"] == "year must be in 1990..2100, found 1989"
    assert p.loc["first_of_month", "value"] == "2015-03-15"
    assert p.loc["child_family_exists", "value"] == "F9"
    assert p.loc["child_family_exists", "message"] == "family_id F9 is not in families"


def test_several_problems_in_one_table_all_reported(dataset):
    cases = dataset["cases"]
    cases.loc[0, "support"] = None
    cases.loc[1, "support"] = "weekly"
    cases.loc[2, "closed"] = T("2019-04-01")
    assert found(schemas.table_problems("cases", cases)) == {
        ("cases", 0, "support", "required"),
        ("cases", 1, "support", "allowed_values"),
        ("cases", 2, "closed", "closed_after_opened"),
    }


def test_row_is_the_index_label_not_the_position(dataset):
    children = dataset["children"].set_axis(["a", "b", "c", "d"])
    children.loc["c", "sex"] = "?"
    dataset["children"] = children
    dataset["events"] = dataset["events"].set_axis([100, 101, 102, 103])
    dataset["events"].loc[103, "child_id"] = "C9"
    assert found(schemas.validate_dataset(dataset)) == {
        ("children", "c", "sex", "allowed_values"),
        ("events", 103, "child_id", "event_child_exists"),
    }


def test_cross_rules_skip_wrong_dtypes_instead_of_raising(dataset):
    dataset["events"]["date"] = dataset["events"]["date"].dt.strftime("%d.%m.%Y")
    problems = schemas.validate_dataset(dataset)
    assert set(problems["rule"]) == {"dtype"}
    assert set(problems["column"]) == {"date"}


def test_synthetic_truth_tables_keep_the_contract():
    """The generator's clean tables (what a perfect cleaning gives) pass every rule."""
    synth_model = pytest.importorskip("evalkit.synth_model")
    synth_truth = pytest.importorskip("evalkit.synth_truth")
    tables = synth_truth.truth_tables(
        synth_model.simulate(synth_model.demo_config(families=300, seed=7)))
    assert set(tables) == set(schemas.TABLES)
    assert all(len(df) for df in tables.values())
    problems = schemas.validate_dataset(tables)
    assert problems.empty, problems.head(20).to_string()


# ------------------------------------------------------------------------------- at scale


def test_check_dataset_at_scale_finds_injected_orphans():
    rng = np.random.default_rng(20240501)
    n_children, n_families = 200_000, 80_000
    family_ids = np.char.add("F", np.arange(n_families).astype(str)).astype(object)
    families = pd.DataFrame({"family_id": family_ids})
    child_family = family_ids[rng.integers(0, n_families, n_children)]
    orphans = np.sort(rng.choice(n_children, 37, replace=False))
    child_family[orphans] = "X"
    children = pd.DataFrame({
        "child_id": np.char.add("C", np.arange(n_children).astype(str)).astype(object),
        "family_id": child_family,
        "birth_month": pd.to_datetime("2010-01-01") + pd.to_timedelta(
            rng.integers(0, 3000, n_children), unit="D"),
    })
    children["birth_month"] = children["birth_month"].dt.to_period("M").dt.to_timestamp()
    n_events = 300_000
    who = rng.integers(0, n_children, n_events)
    events = pd.DataFrame({
        "child_id": children["child_id"].to_numpy()[who],
        "date": children["birth_month"].to_numpy()[who] + pd.to_timedelta(
            rng.integers(0, 2000, n_events), unit="D"),
        "event": np.where(rng.random(n_events) < 0.5, "return_home", "removal"),
    })
    early = np.sort(rng.choice(n_events, 11, replace=False))
    events.loc[early, "date"] = events.loc[early, "date"] - pd.Timedelta(days=9000)
    problems = schemas.check_dataset(
        {"families": families, "children": children, "events": events})
    orphan_rows = problems.loc[problems["rule"] == "child_family_exists", "row"]
    assert sorted(orphan_rows) == orphans.tolist()
    early_rows = problems.loc[problems["rule"] == "event_within_life", "row"]
    assert sorted(early_rows) == early.tolist()
    assert set(problems["rule"]) == {"child_family_exists", "event_within_life"}


def test_table_problems_without_the_text_dtype_check_still_applies_every_other_rule():
    costs = pd.DataFrame({"org": pd.Series([1], dtype=object), "project": ["P"], "year": [1890],
                          "expenses_rub": [1.0]})
    strict = schemas.table_problems("costs", costs)
    loose = schemas.table_problems("costs", costs, check_dtypes=False)
    assert "dtype" in set(strict["rule"])           # org holds a number, not text
    assert "dtype" not in set(loose["rule"])
    assert set(loose["rule"]) == {"range"}         # year 1890 is still out of range


@pytest.mark.parametrize("seed", range(30))
def test_key_lookups_on_categorical_codes_find_what_a_lookup_by_value_finds(seed):
    """Row positions of referenced keys found on categorical codes (as cleaning gives its
    columns) are those found by value: the first row holding the key, -1 when absent or
    missing; with the two columns' categories shared or not, and keys repeated."""
    rng = np.random.default_rng(seed)
    words = np.array(["a", "b", "c", "d", "e", "ж"], dtype=object)
    ref = pd.Series(rng.choice(np.append(words[:4], None), rng.integers(0, 12)), dtype=object)
    keys = pd.Series(rng.choice(np.append(words, None), rng.integers(0, 12)), dtype=object)
    shared = pd.CategoricalDtype(pd.Index(sorted(words), dtype=object))
    for ref_cat, keys_cat in ((ref.astype(shared), keys.astype(shared)),
                              (ref.astype("category"), keys.astype("category"))):
        got = schemas._category_positions(ref_cat.array, keys_cat.array)
        first = {v: i for i, v in reversed(list(enumerate(ref.tolist()))) if v is not None}
        want = [first.get(k, -1) if k is not None else -1 for k in keys.tolist()]
        assert got.tolist() == want
