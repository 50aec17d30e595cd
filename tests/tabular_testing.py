"""A seeded titanic-like frame for the tabular pipeline tests: float ages with NaN, int
columns, a pandas-3 ``str`` column, an ``object`` column with None and NaN, a ``category``
column with missing values; and a copy with categories unseen in training."""

import numpy as np
import pandas as pd

NUM = ["age", "fare", "sibsp"]
CAT = ["sex", "embarked", "pclass"]


def titanic(n=500, seed=0):
    rng = np.random.RandomState(seed)
    age = rng.uniform(1, 80, n)
    age[rng.rand(n) < 0.2] = np.nan
    embarked = rng.choice(["S", "C", "Q", "N"], n).astype(object)
    embarked[embarked == "N"] = None
    embarked[rng.rand(n) < 0.05] = np.nan
    pclass = pd.Series(rng.choice(["1st", "2nd", "3rd"], n)).astype("category")
    pclass[rng.rand(n) < 0.05] = np.nan
    X = pd.DataFrame({
        "age": age,
        "fare": rng.exponential(30, n),
        "sibsp": rng.randint(0, 5, n),
        "sex": pd.Series(rng.choice(["male", "female"], n), dtype="str"),
        "embarked": pd.Series(embarked, dtype=object),
        "pclass": pclass,
    })
    logit = (X["sex"] == "female") * 2.0 - 0.02 * np.nan_to_num(age, nan=30) + \
        (X["pclass"] == "1st") * 1.0
    y = (logit + rng.normal(0, 1, n) > 0).astype(int).to_numpy()
    return X, y


def unseen(X):
    """X with categories the model did not see (and pd.NA in the object column)."""
    T = X.copy()
    T.loc[:9, "embarked"] = "Z"
    T.loc[10, "embarked"] = pd.NA
    T["pclass"] = T["pclass"].cat.add_categories(["4th"])
    T.loc[11:14, "pclass"] = "4th"
    T.loc[15:17, "sex"] = "other"
    T.loc[18, "sex"] = np.nan
    return T
