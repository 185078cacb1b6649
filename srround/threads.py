"""How many threads one large call may use (the pool lives in csrc/threads.c).

Calls split across threads only where the split cannot change a result:
deterministic rounding modes, and stochastic ones with ``stream="counter"``, whose
words are a pure function of the position. A sequential stream hands out its words
one after another from one state, so its calls run on the calling thread
(docs/reproducibility.md). Small calls (below a few ten thousand elements per
thread) stay on one thread too: waking a thread costs more than they take.
"""
import os

from srround import _core

ENVIRONMENT = "SRROUND_NUM_THREADS"


def set_num_threads(n):
    """Sets the number of threads a large call may use (1..256).

    Parameters
    ----------
    n : int

    Returns
    -------
    None

    Raises
    ------
    TypeError
        For a non-integer n.
    ValueError
        For n outside 1..256.

    Examples
    --------
    >>> sr.set_num_threads(1)
    >>> sr.get_num_threads()
    1
    """
    n = _core._integer(n, "n")
    if not 1 <= n <= 256:
        raise ValueError(f"the thread count must be in 1..256, got {n}")
    _core._set_num_threads(n)


def get_num_threads():
    """The number of threads a large call may use.

    Returns
    -------
    int
        The count set by `set_num_threads`, or at import from the environment
        variable SRROUND_NUM_THREADS, else the CPUs this process may run on.

    Examples
    --------
    >>> sr.get_num_threads() >= 1
    True
    """
    return _core._get_num_threads()


def default_num_threads():
    """SRROUND_NUM_THREADS if set, else the CPUs this process may run on.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For an environment value that is not an integer in 1..256.

    Examples
    --------
    >>> 1 <= default_num_threads() <= 256
    True
    """
    value = os.environ.get(ENVIRONMENT, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{ENVIRONMENT} must be an integer in 1..256, got {value!r}")
        if not 1 <= n <= 256:
            raise ValueError(f"{ENVIRONMENT} must be in 1..256, got {n}")
        return n
    try:
        return max(1, min(256, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):   # not every platform has affinity
        return max(1, min(256, os.cpu_count() or 1))


set_num_threads(default_num_threads())
