/*
 * A persistent thread pool, and the splitting of one loop call across it.
 *
 * A call splits only where every piece can compute its own part alone: a
 * deterministic mode (no draws), or a counter stream, whose words are a pure
 * function of the position (each piece draws from a copy of the stream set to its
 * first element's position). A sequential stream's words come one after another
 * from one state, so its calls stay on the calling thread. How a call is split
 * therefore never changes a result: any thread count gives the same bits.
 *
 * One job runs at a time; a call that finds the pool busy (another thread's call)
 * runs all its pieces itself. Workers are created on first use, and after fork()
 * the child starts without them (pthread_atfork).
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime, CLOCK_MONOTONIC under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "round_common.h"

#define SR_MAX_THREADS 256

typedef struct {
    sr_piece_fn piece;
    sr_context *ctx;
    char **args;
    const sr_intp *steps;
    int nargs;
    sr_intp n;
    int nparts;
    int draws;           /* 0: none, 1: 64-bit words, 2: 32-bit half-words */
    uint64_t first;      /* the stream position of element 0: words or half-words */
    sr_rng rng;          /* the stream, positions aside */
    atomic_int next_part, parts_done;
    atomic_uint raised;
} sr_job;

static struct {
    pthread_mutex_t lock;        /* guards the fields below; held by the job's caller */
    pthread_cond_t wake, done;
    int workers;                 /* threads started */
    atomic_int active;           /* workers holding a pointer to the job (changed
                                    under the lock, read without it while spinning) */
    atomic_ulong generation;     /* bumped per job, under the lock */
    sr_job *job;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          0, 0, 0, NULL};
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static atomic_int num_threads = 1;

/* Spinning before sleeping: a futex wake-up on a sleeping core costs tens of
   microseconds (more in a virtual machine), as much as a part of a call takes. The
   caller spins for its workers' last parts (at most about one part's time) and a
   worker for the next job that follows soon, each for at most about SR_SPIN_US. */
#ifndef SR_SPIN_US
#define SR_SPIN_US 100
#endif
static void spin_pause(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#endif
}
static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}
/* Spins until done(arg) or SR_SPIN_US have passed; returns done(arg). */
static int spin_until(int (*done)(const void *), const void *arg)
{
    double deadline = 0;
    for (unsigned i = 0;; i++) {
        if (done(arg)) return 1;
        if (i % 64 == 0) {   /* the clock now and then: a pause is 10 to 150 cycles */
            double t = now_us();
            if (deadline == 0) deadline = t + SR_SPIN_US;
            else if (t > deadline) return done(arg);
        }
        spin_pause();
    }
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

int sr_set_num_threads(int n)
{
    if (n < 1 || n > SR_MAX_THREADS) return -1;
    atomic_store(&num_threads, n);
    return 0;
}

int sr_get_num_threads(void) { return atomic_load(&num_threads); }

/* Element bounds of part k of n elements in `parts` parts, on multiples of 64
   elements (whole cache lines, whole generator steps) but for the end. */
static sr_intp part_start(sr_intp n, int k, int parts)
{
    if (k >= parts) return n;
    sr_intp s = (sr_intp)((double)n * k / parts);
    s -= s % 64;
    return s < n ? s : n;
}

static void run_part(sr_job *job, int k)
{
    sr_intp start = part_start(job->n, k, job->nparts);
    sr_intp end = part_start(job->n, k + 1, job->nparts);
    if (end <= start) return;
    char *args[4];
    for (int i = 0; i < job->nargs; i++) args[i] = job->args[i] + start * job->steps[i];
    sr_rng local = job->rng, *rng = NULL;
    if (job->draws) {
        uint64_t h = job->draws == 2 ? job->first + (uint64_t)start
                                     : 2 * (job->first + (uint64_t)start);
        sr_rng_set_half_position(&local, h);
        rng = &local;
    }
    unsigned raised = job->piece(job->ctx, rng, args, job->steps, end - start);
    if (raised) atomic_fetch_or(&job->raised, raised);
}

/* Takes parts until none is left. */
static void work_on(sr_job *job)
{
    for (int k; (k = atomic_fetch_add(&job->next_part, 1)) < job->nparts;) {
        run_part(job, k);
        atomic_fetch_add(&job->parts_done, 1);
    }
}

static int new_job(const void *seen)
{
    return atomic_load(&pool.generation) != *(const unsigned long *)seen;
}

static void *worker_main(void *unused)
{
    (void)unused;
    unsigned long seen = 0;
    for (;;) {
        if (seen) spin_until(new_job, &seen);   /* a job that follows soon: no sleep */
        pthread_mutex_lock(&pool.lock);
        while (pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        sr_job *job = pool.job;
        if (job) atomic_fetch_add(&pool.active, 1);   /* the caller keeps job alive
                                                         until active is 0 */
        pthread_mutex_unlock(&pool.lock);
        if (!job) continue;
        /* a worker computes under IEEE 754's default environment, as the caller does */
        sr_fpenv own = sr_fpenv_enter();
        work_on(job);
        sr_fpenv_leave(own, 0);
        pthread_mutex_lock(&pool.lock);
        atomic_fetch_sub(&pool.active, 1);
        pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.lock);
    }
    return NULL;
}

static void forget_workers_after_fork(void)
{
    /* the child has only the forking thread: start afresh */
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&pool_busy, NULL);
    pool.workers = 0;
    atomic_store(&pool.active, 0);
    pool.job = NULL;
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, forget_workers_after_fork); }

/* Starts workers up to `wanted`; returns how many there are. Pool lock held. */
static int start_workers(int wanted)
{
    while (pool.workers < wanted) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed) break;
        pool.workers++;
    }
    return pool.workers;
}

/* Every part done, and no worker holds the job. */
static int job_finished(const void *job)
{
    const sr_job *j = job;
    return atomic_load(&j->parts_done) >= j->nparts && atomic_load(&pool.active) == 0;
}

unsigned sr_run_split(sr_context *ctx, sr_piece_fn piece, char **args, int nargs,
                      const sr_intp *steps, sr_intp n, int word_bytes, sr_intp min_part)
{
    int stochastic = sr_rounding_is_stochastic(ctx->rounding);
    int threads = sr_get_num_threads();
    sr_intp most_parts = min_part > 0 ? n / min_part : 0;
    if (threads > most_parts) threads = (int)most_parts;
    if (threads <= 1 || (stochastic && ctx->rng.kind != SR_STREAM_COUNTER) ||
        pthread_mutex_trylock(&pool_busy) != 0)
        return piece(ctx, NULL, args, steps, n);
    /* many parts per thread (of a quarter of min_part at least), taken as threads
       come free: a thread that starts late (woken from sleep, or on a busy machine)
       leaves its share to the others, and the threads finish within a small part of
       each other */
    sr_intp finest = 4 * most_parts;
    int parts = finest < 16 * (sr_intp)threads ? (int)finest : 16 * threads;
    sr_job job;
    job.piece = piece; job.ctx = ctx; job.args = args; job.steps = steps;
    job.nargs = nargs; job.n = n; job.nparts = parts;
    job.draws = stochastic ? (word_bytes == 4 ? 2 : 1) : 0;
    job.first = 0;
    atomic_init(&job.next_part, 0);
    atomic_init(&job.parts_done, 0);
    atomic_init(&job.raised, 0u);
    if (job.draws) {   /* reserve the call's words: the stream moves past them at once */
        sr_context_lock(ctx);
        job.rng = ctx->rng;
        uint64_t h = sr_rng_half_position(&ctx->rng);
        if (job.draws == 2) {
            job.first = h;
            sr_rng_set_half_position(&ctx->rng, h + (uint64_t)n);
        } else {
            job.first = ctx->rng.next;   /* a 64-bit draw drops a waiting half */
            sr_rng_set_half_position(&ctx->rng, 2 * (ctx->rng.next + (uint64_t)n));
        }
        sr_context_unlock(ctx);
    }
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&pool.lock);
    int helpers = start_workers(threads - 1);
    pool.job = &job;
    pool.generation++;
    if (helpers > 0) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    work_on(&job);
    spin_until(job_finished, &job);
    pthread_mutex_lock(&pool.lock);
    pool.job = NULL;   /* workers waking from now on find no job */
    while (!job_finished(&job)) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool_busy);
    return atomic_load(&job.raised);
}
