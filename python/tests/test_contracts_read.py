"""read.fetch_frame: DuckDB's ``df()`` by way of Arrow gives the very frame ``df()`` gives (dtypes, values, nulls),
so the contract engines, which read pandas' dtypes (masked or numpy, str or object), see nothing change."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from readout.contracts.read import fetch_frame

#: every type the contracts' frames hold, each with and without a null, a column of nulls only, NaN and infinities
ROWS = """select * from (values
    (1, 1::int, null::int, true, null::boolean, 'a', null::varchar, 1.5::double, null::double,
     timestamp '2026-01-02 03:04:05.123456', null::timestamp, 1::ubigint, 1::tinyint, null::smallint,
     timestamptz '2026-01-01 00:00:00+00', 3::bigint, null::bigint, 2.5::float, 'USD\n', null::ubigint),
    (2, 2, 3, false, true, null, null, 'nan'::double, 'inf'::double, null, null, 2, 2, 3::smallint,
     null, 4, 5, null, '', 7),
    (3, -2147483648, null, true, false, 'é', null, '-inf'::double, -0.0, timestamp '1970-01-01', null,
     18446744073709551615, -128, -32768, timestamptz '2026-06-01 12:00:00+02', -1, null, 'nan'::float, 'x', null)
) as t(row_number, i, i_null, b, b_null, s, s_all_null, d, d_null, ts, ts_all_null, u, tiny, small, tz, big,
       big_null, f, text, u_null)"""


def both(sql: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    con = duckdb.connect()
    try:
        return con.execute(sql).df(), fetch_frame(con, sql)
    finally:
        con.close()


@pytest.mark.parametrize(
    "sql",
    [
        f"{ROWS} order by row_number",
        f"select * from ({ROWS}) where false",  # no row: every column's empty dtype
        f"select s, s_all_null, i_null from ({ROWS}) where row_number = 2",  # a text column of nulls only
        "select [1, 2] as l, 1 as i",  # a type it does not map (a list): df() reads it
        "select date '2026-01-01' as d, 1.25::decimal(10, 2) as m",  # dates and decimals: df() too
        "select 1 as a, 2 as a",  # two columns of one name
        "select 1::int as i from range(5000)",  # more than one Arrow chunk's worth
        # the other timestamp precisions, with a null: mapped from their bound types
        "select * from (values (timestamp_ns '2026-01-01 00:00:00.123456789', timestamp_ms '2026-01-01 00:00:00.5',"
        " timestamp_s '2026-01-01 00:00:01'), (null, null, null)) as t(ns, ms, s)",
        "select '00000000-0000-0000-0000-000000000001'::uuid as u, 1::hugeint as h, 'a'::blob as b",  # df() reads
    ],
)
def test_fetch_frame_is_what_duckdb_df_gives(sql):
    expected, got = both(sql)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert [str(t) for t in got.dtypes] == [str(t) for t in expected.dtypes]
    for column in expected.columns:  # the missing values are the same kind (None, NaN, NaT or NA) too
        assert [repr(v) for v in got[column]] == [repr(v) for v in expected[column]], column


def test_the_comparison_tells_a_masked_column_from_a_float_one():
    """Not vacuous: Arrow's own conversion (integers with a null become floats, booleans objects) fails it."""
    con = duckdb.connect()
    sql = f"{ROWS} order by row_number"
    expected, plain = con.execute(sql).df(), con.sql(sql).to_arrow_table().to_pandas()
    con.close()
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(plain, expected, check_exact=True)
    assert str(plain["i_null"].dtype) == "float64" and str(expected["i_null"].dtype) == "Int32"


@pytest.mark.parametrize(
    "columns",
    [
        "1::int as i, 'a' as s",  # mapped: through Arrow
        "1::int as i, [1, 2] as l",  # a type it does not map: df() (before: Arrow, then df() ran it again)
    ],
)
def test_fetch_frame_runs_the_query_once(columns):
    """The way it fetches is decided from the query's bound types: an unmapped column does not run it twice (a
    sequence counts the runs)."""
    con = duckdb.connect()
    con.execute("create sequence runs")
    frame = fetch_frame(con, f"select nextval('runs') as run, {columns}")
    assert frame["run"].tolist() == [1]
    assert con.execute("select nextval('runs')").fetchone()[0] == 2
    con.close()
