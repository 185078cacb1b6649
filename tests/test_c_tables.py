"""The Python-visible names against the C core's tables (csrc/roundings.def,
csrc/operations.def): the bindings build ROUNDINGS and Context's ufuncs from the C
arrays those tables generate, so a mode or operation added to a table appears in
Python, in table order, with the right number of inputs and identity."""
import pathlib
import re

import numpy as np
import pytest

import srround as sr
from srround import _core

from conftest import MODES, STOCHASTIC

CSRC = pathlib.Path(__file__).resolve().parent.parent / "csrc"


def table_rows(name):
    """The X(A, ...) rows of a csrc/*.def table, as lists of their first columns."""
    text = (CSRC / name).read_text()
    return [[c.strip() for c in row.split(",")[:5]]
            for row in re.findall(r"^\s*X\(A, (.*)\)", text, re.M)]


ROUNDING_ROWS = table_rows("roundings.def")
OPERATION_ROWS = table_rows("operations.def")


def test_roundings_follow_the_table():
    assert sr.ROUNDINGS == tuple(row[1] for row in ROUNDING_ROWS)
    assert _core.STOCHASTIC_ROUNDINGS == tuple(row[1] for row in ROUNDING_ROWS
                                               if row[2] == "1")


def test_the_table_holds_the_contract_modes():
    # conftest writes the modes out by hand: a mode dropped or renamed fails here
    assert set(sr.ROUNDINGS) == set(MODES)
    assert set(_core.STOCHASTIC_ROUNDINGS) == set(STOCHASTIC)


def test_ufuncs_follow_the_table():
    assert _core.UFUNCS == ("round",) + tuple(row[1] for row in OPERATION_ROWS)
    assert set(_core.UFUNCS) == {"round", "add", "subtract", "multiply", "divide", "fma",
                                 "sqrt"}


IDENTITIES = {"SR_IDENTITY_NONE": None, "SR_IDENTITY_ZERO": 0, "SR_IDENTITY_ONE": 1}


@pytest.mark.parametrize("row", OPERATION_ROWS, ids=[row[1] for row in OPERATION_ROWS])
def test_each_operation_is_a_context_ufunc(row):
    _, name, nin, identity = row[:4]
    for fmt, loops in (("bf16", ["ff->f", "dd->d"]), ("binary64", ["dd->d"])):
        u = getattr(sr.Context(fmt, "nearest"), name)
        assert isinstance(u, np.ufunc)
        assert u.nin == int(nin) and u.nout == 1
        assert u.identity == IDENTITIES[identity]
        assert u.types == [t.replace("ff", "f" * int(nin)).replace("dd", "d" * int(nin))
                           for t in loops]
        assert u.__name__ == f"{name}_{sr.format(fmt).label}_nearest"


def test_round_ufunc_loops():
    u = sr.Context("bf16", "nearest").round
    assert u.nin == 1 and u.identity is None
    assert u.types == ["l->d", "L->d", "e->d", "f->f", "d->d"] or \
        u.types == ["q->d", "Q->d", "e->d", "f->f", "d->d"]


def test_ufunc_attributes_are_cached_and_documented():
    ctx = sr.Context("bf16", rng=0)
    for name in _core.UFUNCS:
        assert getattr(ctx, name) is getattr(ctx, name)
        assert getattr(sr.Context, name).__doc__
    with pytest.raises(AttributeError):
        ctx.no_such_operation
