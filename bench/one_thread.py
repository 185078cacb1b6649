"""Import first, before NumPy: every benchmark here runs on one thread. Left alone,
OpenBLAS starts worker threads at import that spin for a while and take a core from
the measured thread on small machines."""
import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"
