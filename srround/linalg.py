"""Dense linear algebra with every operation rounded in a Context.

``lu_factor``, ``lu_solve``, ``solve_triangular``, ``solve``, ``cholesky`` and ``inv``
run the textbook algorithms with one rounded Context ufunc call per arithmetic
step, so a solve in bfloat16 carries the error of every operation inside it (not
a binary64 solve rounded once at the end). Each docstring writes the algorithm
as the papers write it: fl(.) is one operation of ctx, rounded in its mode.

Arguments: A (..., n, n) and b (n,) or (..., n, k), stacked matrices broadcasting
like NumPy's (b is a vector only when it is 1-D, as in np.linalg.solve). Plain
arrays are rounded to nearest into ctx's format first (as constants are: no random
words) and stored as sr.round stores them (float32 stays float32 where the format
fits, everything else float64); results are plain ndarrays. EmulatedArrays carry
their context (ctx may then be omitted, or must be that context) and give
EmulatedArrays. ``np.linalg.solve / inv / cholesky`` on EmulatedArrays call these.

Errors: a non-square matrix, shapes that do not fit, NaN or inf (also after
rounding into the format): ValueError (as SciPy's check_finite); complex input:
TypeError; a singular matrix (a zero pivot) or, for cholesky, one that is not
positive definite: numpy.linalg.LinAlgError.

Random words (stochastic contexts): each step below is one ufunc call over all
matrices of a stack (batch index outermost) and, within a matrix, over rows and
columns in C order (the calls pass order="C", so NumPy iterates that way whatever
the strides); LU's trailing update is one call of `srround.matmul`'s kernel instead
(batch by batch, row by row: products, then subtractions); the calls happen in the
order the algorithms list them.
"""
import numpy as np
from numpy.linalg import LinAlgError

from srround._core import Context, _matmul_kernel
from srround.emulation.array import EmulatedArray, Setting, common_setting, storage_dtype, \
    wrap, F32, F64
from srround.summation import report_flags

__all__ = ["lu_factor", "lu_solve", "solve_triangular", "solve", "cholesky", "inv"]


# ---------------------------------------------------------------- arguments

class _Operands:
    """The setting of a call and its arrays' values, in one storage dtype."""

    def __init__(self, ctx, arrays, names):
        setting = common_setting(arrays)
        self.emulated = setting is not None
        if setting is None:
            if ctx is None:
                raise TypeError("ctx is required for plain arrays (EmulatedArrays carry "
                                "their own context)")
            setting = Setting(ctx)
        elif ctx is not None:
            if not isinstance(ctx, Context):
                raise TypeError(f"ctx must be an srround Context, got {type(ctx).__name__}")
            if ctx is not setting.ctx:
                raise ValueError("ctx is not the context of the EmulatedArrays given")
        self.setting = setting
        fmt = setting.format
        self.dtype = F64 if any(storage_dtype(x, fmt) == F64 for x in arrays) else F32
        self.values = []
        for x, name in zip(arrays, names):
            v = np.asarray(x._values if isinstance(x, EmulatedArray)
                           else setting.constant(x, self.dtype))
            if not np.isfinite(v).all():
                raise ValueError(f"{name} contains NaN or inf (values beyond the range of "
                                 f"{fmt.label} overflow when rounded into it)")
            self.values.append(v)

    def result(self, values):
        values = np.asarray(values, self.dtype)
        return wrap(values, self.setting) if self.emulated else values


def _check_square(a, name="A"):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name} must be a square matrix or a stack of them (shape "
                         f"(..., n, n)), got shape {a.shape}")


def _right_hand_side(b, n, batch):
    """b as a fresh (B, n, k) array broadcast over the batch, and how to shape the
    result back (b is a vector only when it is 1-D)."""
    vector = b.ndim == 1
    m = b[:, None] if vector else b
    if m.shape[-2] != n:
        raise ValueError(f"b has {m.shape[-2]} rows; the matrix has {n}")
    try:
        full = np.broadcast_shapes(batch, m.shape[:-2])
    except ValueError:
        raise ValueError(f"the stacks of matrices and of right-hand sides do not "
                         f"broadcast: {batch} and {m.shape[:-2]}") from None
    k = m.shape[-1]
    X = np.array(np.broadcast_to(m, full + (n, k)), order="C").reshape(_count(full), n, k)
    shape = full + (n,) if vector else full + (n, k)
    return X, full, shape


def _count(batch):
    return int(np.prod(batch, dtype=np.int64))


def _stack(a, batch):
    """a broadcast to the batch, as a (B, n, n) stack."""
    n = a.shape[-1]
    return np.broadcast_to(a, batch + (n, n)).reshape(_count(batch), n, n)


# ---------------------------------------------------------------- LU

def _lu_in_place(A, setting):
    """Overwrite the (B, n, n) stack A with its LU factors; return the pivots. The
    trailing update of each step is one call of sr.matmul's C kernel (a product with
    inner dimension 1, subtracted in place: fused, no temporary)."""
    B, n, _ = A.shape
    piv = np.empty((B, n), np.int32)
    stack = np.arange(B)
    offsets = np.arange(B, dtype=np.intp) * A.strides[0]
    divide, ctx = setting.divide, setting.ctx
    for k in range(n):
        p = k + np.argmax(np.abs(A[:, k:, k]), axis=1)
        piv[:, k] = p
        moved = p != k
        if moved.any():
            s, r = stack[moved], p[moved]
            A[s, k], A[s, r] = A[s, r], A[s, k]
        pivot = A[:, k, k]
        if (pivot == 0).any():
            raise LinAlgError(f"Singular matrix: the pivot of column {k} is zero"
                              + (f" (matrix {int(np.argmax(pivot == 0))} of the stack)"
                                 if B > 1 else ""))
        m = n - k - 1
        if m:
            column = A[:, k + 1:, k]
            divide(column, pivot[:, None], out=column, order="C")
            # a_ij = fl(a_ij - fl(l_ik * a_kj)), row by row (the kernel's order)
            raised = _matmul_kernel(ctx, ctx, A[0, k + 1:, k:k + 1], A[0, k:k + 1, k + 1:],
                                    A[0, k + 1:, k + 1:], offsets, offsets, offsets,
                                    True, False)
            report_flags(raised)
            if not ctx.format.signed_zero:     # the kernel works as for a format with -0
                trailing = A[:, k + 1:, k + 1:]
                trailing[trailing == 0] = 0
    return piv


def lu_factor(A, ctx=None):
    """LU factorization with partial pivoting, PA = LU, every operation rounded in ctx.

    Parameters
    ----------
    A : array_like or EmulatedArray
        Square matrices (..., n, n).
    ctx : Context, optional
        Rounds every operation; may be omitted for an EmulatedArray (its context).

    Returns
    -------
    lu : numpy.ndarray or EmulatedArray
        U on and above the diagonal and L's multipliers below it (L has a unit
        diagonal), as scipy.linalg.lu_factor returns.
    piv : numpy.ndarray
        int32, shape (..., n): row i was interchanged with row piv[i] at step i.

    Raises
    ------
    TypeError
        For complex input, or a ctx that is not a Context.
    ValueError
        For shapes that do not fit, NaN or inf (also after rounding into the
        format), no ctx for plain arrays, or a ctx other than an EmulatedArray's.
    numpy.linalg.LinAlgError
        For a singular matrix (a zero pivot).

    Notes
    -----
    Algorithm: right-looking Gaussian elimination (the kij form; Golub & Van Loan,
    Matrix Computations, Alg. 3.4.1; Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., sec. 9.1), for k = 1, ..., n:

        p = the first i >= k with abs(a_ik) maximal           (exact)
        swap rows k and p (whole rows: L's part too)          (exact)
        a_kk == 0: LinAlgError (singular)
        l_ik = fl(a_ik / a_kk)                   i > k        (one ctx.divide)
        a_ij = fl(a_ij - fl(l_ik * a_kj))        i, j > k     (ctx.multiply, ctx.subtract)

    Each u_ij (i <= j) is thus a_ij minus the products l_ik u_kj, k = 1..i-1,
    subtracted one at a time in order of k, and l_ij the same for k < j, divided by
    u_jj: Higham's Theorem 9.3 applies, ``|A - LU| <= gamma_n |L||U|`` (Thm 9.4, with
    PA for A), gamma_n = n u / (1 - n u) and u the unit roundoff of ctx's mode (2^-p
    for round to nearest; 2^(1-p) for the others).

    Random words, per k: the n - k divisions (rows in order), then for each row
    i > k in order: its n - k - 1 products, then its n - k - 1 subtractions (j in
    order; the update is a call of `srround.matmul`'s kernel with inner dimension 1).

    Examples
    --------
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> lu, piv = sr.linalg.lu_factor(A, sr.Context(sr.bfloat16, "nearest"))
    >>> lu, piv
    (array([[4.  , 1.  ],
           [0.25, 2.75]]), array([0, 1], dtype=int32))
    """
    ops = _Operands(ctx, [A], ["A"])
    (a,) = ops.values
    _check_square(a)
    work = np.array(_stack(a, a.shape[:-2]), ops.dtype, order="C")
    piv = _lu_in_place(work, ops.setting)
    return ops.result(work.reshape(a.shape)), piv.reshape(a.shape[:-1])


def _substitute(T, X, setting, lower, unit_diagonal):
    """Overwrite X (B, n, k) with T^-1 X, T (B, n, n) triangular: column-oriented
    substitution (Golub & Van Loan, Alg. 3.1.3 and 3.1.4), one step per column j:

        x_j = fl(x_j / t_jj)                     (unless unit_diagonal)
        x_i = fl(x_i - fl(t_ij * x_j))           i after j (i > j lower, i < j upper)

    Random words, per j: the k divisions, then the products, then the subtractions
    (rows in order, each row's k columns in order)."""
    B, n, k = X.shape
    if not unit_diagonal:
        diagonal = np.diagonal(T, axis1=1, axis2=2)
        if (diagonal == 0).any():
            j = int(np.nonzero((diagonal == 0).any(axis=0))[0][0])
            raise LinAlgError(f"singular matrix: resolution failed at diagonal {j} "
                              "(it is zero)")
    divide, multiply, subtract = setting.divide, setting.multiply, setting.subtract
    for j in (range(n) if lower else range(n - 1, -1, -1)):
        x_j = X[:, j, :]
        if not unit_diagonal:
            divide(x_j, T[:, j, j, None], out=x_j, order="C")
        rows = slice(j + 1, n) if lower else slice(0, j)
        if (n - j - 1 if lower else j):
            products = multiply(T[:, rows, j, None], x_j[:, None, :], order="C")
            below = X[:, rows, :]
            subtract(below, products, out=below, order="C")


def solve_triangular(A, b, ctx=None, *, lower=False, unit_diagonal=False):
    """Solve A x = b for triangular A, every operation rounded in ctx.

    Parameters
    ----------
    A : array_like or EmulatedArray
        Triangular matrices (..., n, n); only the lower (lower=True) or upper
        triangle is read.
    b : array_like or EmulatedArray
        (n,) or (..., n, k).
    ctx : Context, optional
        Rounds every operation; may be omitted for EmulatedArrays.
    lower : bool, optional
        Use A's lower triangle (default the upper).
    unit_diagonal : bool, optional
        Take A's diagonal as ones.

    Returns
    -------
    numpy.ndarray or EmulatedArray
        x, shaped as b (broadcast against A's stack).

    Raises
    ------
    TypeError
        For complex input, or a ctx that is not a Context.
    ValueError
        For shapes that do not fit, NaN or inf (also after rounding into the
        format), no ctx for plain arrays, or a ctx other than an EmulatedArray's.
    numpy.linalg.LinAlgError
        For a zero on the diagonal.

    Notes
    -----
    Column-oriented substitution (Golub & Van Loan, Matrix
    Computations, Alg. 3.1.3 / 3.1.4; backward stable: Higham, Thm 8.5), for j = 1, ..., n
    (lower; j = n, ..., 1 for upper):

        x_j = fl(b_j / a_jj)                            (skipped with unit_diagonal)
        b_i = fl(b_i - fl(a_ij * x_j))    for the i after j (i > j lower, i < j upper)

    Random words per j: the divisions (b's columns in order), then the products,
    then the subtractions (rows in order).

    Examples
    --------
    >>> U = np.array([[4.0, 1.0], [0.0, 3.0]])
    >>> sr.linalg.solve_triangular(U, np.array([1.0, 2.0]), sr.Context("bf16", "nearest"))
    array([0.08300781, 0.66796875])
    """
    ops = _Operands(ctx, [A, b], ["A", "b"])
    a, bv = ops.values
    _check_square(a)
    n = a.shape[-1]
    X, batch, shape = _right_hand_side(bv, n, a.shape[:-2])
    _substitute(_stack(a, batch), X, ops.setting, bool(lower), bool(unit_diagonal))
    return ops.result(X.reshape(shape))


def _permute(X, piv):
    """Apply the row interchanges of piv (B, n) to X (B, n, k), in order (exact)."""
    stack = np.arange(X.shape[0])
    for i in range(piv.shape[1]):
        p = piv[:, i]
        X[stack, i], X[stack, p] = X[stack, p], X[stack, i]


def _solve_factored(lu, piv, X, setting):
    _permute(X, piv)
    _substitute(lu, X, setting, lower=True, unit_diagonal=True)
    _substitute(lu, X, setting, lower=False, unit_diagonal=False)


def lu_solve(lu_and_piv, b, ctx=None):
    """Solve A x = b from lu_factor's (lu, piv), every operation rounded in ctx.

    Parameters
    ----------
    lu_and_piv : tuple
        (lu, piv) as `lu_factor` returns them.
    b : array_like or EmulatedArray
        (n,) or (..., n, k).
    ctx : Context, optional
        Rounds every operation; may be omitted for EmulatedArrays.

    Returns
    -------
    numpy.ndarray or EmulatedArray
        x, shaped as b (broadcast against the stack).

    Raises
    ------
    TypeError
        For complex input, a ctx that is not a Context, or lu_and_piv that is
        not a pair.
    ValueError
        For shapes that do not fit, NaN or inf (also after rounding into the
        format), no ctx for plain arrays, a ctx other than an EmulatedArray's, or
        pivots that are not row indices.
    numpy.linalg.LinAlgError
        For a zero on U's diagonal.

    Notes
    -----
    b is permuted as piv says (exact), then L y = P b is solved by forward
    substitution (unit diagonal: no divisions) and U x = y by back substitution, both
    column-oriented as solve_triangular describes:

        y = P b;  for j = 1..n:  y_i = fl(y_i - fl(l_ij * y_j)),  i > j
                  for j = n..1:  x_j = fl(y_j / u_jj);  y_i = fl(y_i - fl(u_ij * x_j)),  i < j

    Examples
    --------
    >>> ctx = sr.Context(sr.bfloat16, "nearest")
    >>> factors = sr.linalg.lu_factor(np.array([[4.0, 1.0], [1.0, 3.0]]), ctx)
    >>> sr.linalg.lu_solve(factors, np.array([1.0, 2.0]), ctx)
    array([0.09082031, 0.63671875])
    """
    if not isinstance(lu_and_piv, (tuple, list)) or len(lu_and_piv) != 2:
        raise TypeError("lu_and_piv must be the pair (lu, piv) that lu_factor returns")
    lu, piv = lu_and_piv
    ops = _Operands(ctx, [lu, b], ["lu", "b"])
    a, bv = ops.values
    _check_square(a, "lu")
    n = a.shape[-1]
    piv = np.asarray(piv)
    if piv.dtype.kind not in "iu" or piv.shape != a.shape[:-1] \
            or (piv.size and (piv.min() < 0 or piv.max() >= n)):
        raise ValueError(f"piv must hold row indices 0..{n - 1} in an integer array of "
                         f"shape {a.shape[:-1]}, as lu_factor returns")
    X, batch, shape = _right_hand_side(bv, n, a.shape[:-2])
    B = X.shape[0]
    pivots = np.broadcast_to(piv, batch + (n,)).reshape(B, n)
    _solve_factored(_stack(a, batch), pivots, X, ops.setting)
    return ops.result(X.reshape(shape))


def solve(A, b, ctx=None):
    """Solve A x = b, every operation rounded in ctx.

    `lu_factor` (A), then `lu_solve`: Gaussian elimination with partial pivoting
    (Higham, Accuracy and Stability of Numerical Algorithms, Thm 9.4 for the
    factors, Thm 8.5 for the substitutions). ``np.linalg.solve`` on EmulatedArrays
    calls this.

    Parameters
    ----------
    A : array_like or EmulatedArray
        Square matrices (..., n, n).
    b : array_like or EmulatedArray
        (n,) or (..., n, k) (a vector only when 1-D, as in np.linalg.solve).
    ctx : Context, optional
        Rounds every operation; may be omitted for EmulatedArrays.

    Returns
    -------
    numpy.ndarray or EmulatedArray
        x, shaped as b (broadcast against A's stack).

    Raises
    ------
    TypeError
        For complex input, or a ctx that is not a Context.
    ValueError
        For shapes that do not fit, NaN or inf (also after rounding into the
        format), no ctx for plain arrays, or a ctx other than an EmulatedArray's.
    numpy.linalg.LinAlgError
        For a singular matrix (a zero pivot).

    Notes
    -----
    Random words: the factorization's, then the substitutions'.

    Examples
    --------
    >>> A, b = np.array([[4.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0])
    >>> sr.linalg.solve(A, b, sr.Context(sr.bfloat16, "nearest"))   # exact: 1/11, 7/11
    array([0.09082031, 0.63671875])
    >>> np.linalg.solve(sr.emulate(A, sr.Context(sr.bfloat16, "nearest")), b)
    EmulatedArray([0.09082031, 0.63671875], dtype=float64, format=bfloat16, rounding='nearest')
    """
    ops = _Operands(ctx, [A, b], ["A", "b"])
    a, bv = ops.values
    _check_square(a)
    n = a.shape[-1]
    X, batch, shape = _right_hand_side(bv, n, a.shape[:-2])
    work = np.array(_stack(a, batch), order="C")
    piv = _lu_in_place(work, ops.setting)
    _solve_factored(work, piv, X, ops.setting)
    return ops.result(X.reshape(shape))


def inv(A, ctx=None):
    """The inverse of A, every operation rounded in ctx.

    `lu_factor` (A), then `lu_solve` with the identity as right-hand side (its n
    columns solved together, each step one call over all of them).

    Parameters
    ----------
    A : array_like or EmulatedArray
        Square matrices (..., n, n).
    ctx : Context, optional
        Rounds every operation; may be omitted for an EmulatedArray.

    Returns
    -------
    numpy.ndarray or EmulatedArray
        The inverses, shaped as A.

    Raises
    ------
    TypeError
        For complex input, or a ctx that is not a Context.
    ValueError
        For shapes that do not fit, NaN or inf (also after rounding into the
        format), no ctx for plain arrays, or a ctx other than an EmulatedArray's.
    numpy.linalg.LinAlgError
        For a singular matrix (a zero pivot).

    Notes
    -----
    Random words: the factorization's, then the substitutions'.

    Examples
    --------
    >>> sr.linalg.inv(np.array([[4.0, 1.0], [1.0, 3.0]]), sr.Context("bf16", "nearest"))
    array([[ 0.2734375 , -0.09082031],
           [-0.09082031,  0.36328125]])
    """
    ops = _Operands(ctx, [A], ["A"])
    (a,) = ops.values
    _check_square(a)
    n = a.shape[-1]
    work = np.array(_stack(a, a.shape[:-2]), ops.dtype, order="C")
    piv = _lu_in_place(work, ops.setting)
    X = np.array(np.broadcast_to(np.eye(n, dtype=ops.dtype), work.shape))
    _solve_factored(work, piv, X, ops.setting)
    return ops.result(X.reshape(a.shape))


def cholesky(A, ctx=None, *, lower=True):
    """Cholesky factor of a symmetric positive definite A, every operation rounded.

    Parameters
    ----------
    A : array_like or EmulatedArray
        Symmetric positive definite matrices (..., n, n); only one triangle is read.
    ctx : Context, optional
        Rounds every operation; may be omitted for an EmulatedArray.
    lower : bool, optional
        True (default): L with A = L L^T from A's lower triangle (as
        np.linalg.cholesky). False: R = L^T with A = R^T R from A's upper triangle
        (as scipy.linalg.cholesky).

    Returns
    -------
    numpy.ndarray or EmulatedArray
        The factor; its other triangle is zero.

    Raises
    ------
    TypeError
        For complex input, or a ctx that is not a Context.
    ValueError
        For shapes that do not fit, NaN or inf (also after rounding into the
        format), no ctx for plain arrays, or a ctx other than an EmulatedArray's.
    numpy.linalg.LinAlgError
        For a matrix that is not positive definite (a pivot <= 0).

    Notes
    -----
    Algorithm: outer-product (right-looking) Cholesky on the upper triangle (Golub &
    Van Loan, Matrix Computations, Alg. 4.2.2; for lower=True on A^T), for k = 1..n:

        a_kk <= 0 (or NaN): LinAlgError (not positive definite)
        r_kk = fl(sqrt(a_kk))
        r_kj = fl(a_kj / r_kk)                        j > k
        a_ij = fl(a_ij - fl(r_ki * r_kj))             k < i <= j

    Each r_ij is a_ij minus the products r_ki r_kj, k < i, one at a time in order of
    k: Higham's Theorem 10.3 bound ``|A - R^T R| <= gamma_(n+1) |R^T||R|`` applies.
    Random words per k: the square root, the divisions (in order of j), then the
    products and the subtractions over the trailing upper triangle (row by row).

    Examples
    --------
    >>> sr.linalg.cholesky(np.array([[4.0, 1.0], [1.0, 3.0]]), sr.Context("bf16", "nearest"))
    array([[2.     , 0.     ],
           [0.5    , 1.65625]])
    """
    ops = _Operands(ctx, [A], ["A"])
    (a,) = ops.values
    _check_square(a)
    n = a.shape[-1]
    work = np.array(_stack(np.swapaxes(a, -1, -2) if lower else a, a.shape[:-2]),
                    ops.dtype, order="C")
    setting = ops.setting
    B = work.shape[0]
    upper = np.triu(np.ones((max(n - 1, 0),) * 2, bool))
    products = np.zeros(B * max(n - 1, 0) ** 2, ops.dtype)
    for k in range(n):
        pivot = work[:, k, k]
        if not (pivot > 0).all():
            raise LinAlgError("Matrix is not positive definite: the pivot of column "
                              f"{k} is {float(pivot[np.argmin(pivot > 0)])}")
        setting.sqrt(pivot, out=pivot, order="C")
        m = n - k - 1
        if m:
            row = work[:, k, k + 1:]
            setting.divide(row, pivot[:, None], out=row, order="C")
            mask = upper[k:, k:]
            block = products[:B * m * m].reshape(B, m, m)
            setting.multiply(row[:, :, None], row[:, None, :], out=block, where=mask,
                             order="C")
            trailing = work[:, k + 1:, k + 1:]
            setting.subtract(trailing, block, out=trailing, where=mask, order="C")
    R = np.triu(work).reshape(a.shape)
    return ops.result(np.swapaxes(R, -1, -2) if lower else R)
