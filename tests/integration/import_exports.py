"""Small crafted exports for the import tests (mappings/example_survey.yml and example_unknown_split.yml).

``visits()``: one row per visit, 400 visitors plus 20 second visits (some in the other arm), about 4% of rows
shown the other arm's page, 10% from an internal 'test' country, answers yes / no / empty."""

from __future__ import annotations

import numpy as np
import pandas as pd


def visits(seed: int = 7, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["A", "B"], size=n, p=[0.45, 0.55])
    shown = np.where(rng.random(n) < 0.04, np.where(arm == "A", "B", "A"), arm)
    visitor = np.array([f"v{i:04d}" for i in range(n)], dtype=object)
    again = rng.choice(n, size=20, replace=False)
    extra = pd.DataFrame({"visitor": visitor[again], "arm": rng.choice(["A", "B"], size=20)})
    extra["shown"] = extra.arm
    frame = pd.concat([pd.DataFrame({"visitor": visitor, "arm": arm, "shown": shown}), extra], ignore_index=True)
    m = len(frame)
    frame["day"] = [f"2024-05-{d:02d}" for d in rng.integers(1, 10, m)]
    frame["hour"] = rng.integers(0, 24, m).astype(str)
    frame["country"] = rng.choice(["NL", "DE", "test"], size=m, p=[0.5, 0.4, 0.1])
    frame["answer"] = rng.choice(["yes", "no", ""], size=m, p=[0.3, 0.4, 0.3])
    frame["orders"] = rng.poisson(np.where(frame.arm == "B", 1.3, 1.1))
    frame["sessions"] = rng.poisson(3, m)
    frame["revenue"] = np.round(frame.orders * rng.gamma(2.0, 15.0, m), 2)
    return frame


def write_visits(path) -> pd.DataFrame:
    frame = visits()
    frame.to_csv(path, index=False)
    return frame


def survey_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """mappings/example_survey.yml computed with pandas: derived columns, the where filter, then the
    first_row policy (a visitor seen in several variants keeps only its first row by time, then row)."""
    df = frame.copy()
    df["row"] = np.arange(1, len(df) + 1)
    df["seen_at"] = pd.to_datetime(df.day) + pd.to_timedelta(df.hour.astype(int), unit="h")
    df = df[df.country != "test"]
    df["variant"] = df.arm.map({"A": "control", "B": "treatment"})
    df["shown_variant"] = df.shown.map({"A": "control", "B": "treatment"})
    seen = pd.concat(
        [df[["visitor", "variant"]], df[["visitor", "shown_variant"]].set_axis(["visitor", "variant"], axis=1)]
    )
    several = seen.groupby("visitor").variant.nunique()
    several = set(several[several > 1].index)
    first = df[df.visitor.isin(several)].sort_values(["seen_at", "row"]).drop_duplicates("visitor")
    return pd.concat([df[~df.visitor.isin(several)], first]).sort_values("row")
