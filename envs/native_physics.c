/* The physics of a batched step of Gymnasium's MuJoCo locomotion envs (envs/batched.py), in C:
 * for every slot, what BatchedLocomotion's per-slot Python did, with no Python between slots.
 *
 * Slot r of the call steps the MjModel/MjData at models[rows[r]]/datas[rows[r]] (the addresses
 * of the Python bindings' objects, each slot its own model) and writes row rows[r] of the
 * outputs:
 *   data->ctrl = ctrl[rows[r]]                      (float64 [n, nu])
 *   before[rows[r]] = body's xpos[:2] (ant) or qpos[0]
 *   mj_step x nstep; mj_rnePostConstraint          (MujocoEnv._step_mujoco_simulation)
 *   qpos, qvel, after, cfrc_ext (ant) rows         (float64 [n, nq], [n, nv], [n, 2], [n, nbody*6])
 * The MuJoCo calls and the copies are those of the Python path, so the results are equal bit
 * for bit. Given the v5 formulas' parameters (pa_v5, not NULL), the slot's thread then also
 * computes its observation, reward and termination as Gymnasium's v5 step does (see
 * v5_outputs: the same operations in the same order and dtypes, NumPy's pairwise order for the
 * sums). OpenMP spreads the slots over n_threads threads, each taking the next slot when it
 * finishes one (a slot in heavy contact takes longer); ctypes releases the GIL for the call.
 *
 * A MuJoCo error inside a slot's step (mju_error, e.g. its arena overflowing) would end the
 * process in MuJoCo's default handler: the Python bindings catch errors only in their own calls.
 * pa_install() makes pa_error MuJoCo's error handler (where none is set): inside this step it
 * records the message in the slot's row of `errors` (ERROR_LEN chars), sets failed[r] and jumps
 * back to the slot's loop (the Python side then raises mujoco.FatalError, as the bindings'
 * mj_step would); anywhere else it does what MuJoCo's default does: print and exit. */
#include <math.h>
#include <mujoco/mujoco.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_LEN 512

static _Thread_local jmp_buf *pa_jump = NULL;
static _Thread_local char *pa_message = NULL;

static void pa_error(const char *msg) {
    if (pa_jump != NULL) {
        snprintf(pa_message, ERROR_LEN, "%s", msg);
        longjmp(*pa_jump, 1);
    }
    fprintf(stderr, "ERROR: %s\n", msg);
    exit(EXIT_FAILURE);
}

/* Make pa_error MuJoCo's error handler unless another is set. Returns 1 when pa_error is the
 * handler, 0 when another one is, -1 when the loaded libmujoco is not the version of the headers
 * this file was compiled against (its structs' layouts may differ). */
int pa_install(void) {
    if (mj_version() != mjVERSION_HEADER) return -1;
    if (mju_user_error == NULL) mju_user_error = pa_error;
    return mju_user_error == pa_error;
}

static void slot_step(const mjModel *m, mjData *d, int64_t row, const double *ctrl, int nstep,
                  int ant, int body, double *qpos, double *qvel, double *before,
                  double *after, double *cfrc) {
    const int nq = m->nq, nv = m->nv, nu = m->nu, nb = m->nbody;
    memcpy(d->ctrl, ctrl + row * nu, sizeof(mjtNum) * (size_t)nu);
    if (ant) {
        before[2 * row] = d->xpos[3 * body];
        before[2 * row + 1] = d->xpos[3 * body + 1];
    } else {
        before[2 * row] = d->qpos[0];
    }
    for (int k = 0; k < nstep; k++) mj_step(m, d);
    mj_rnePostConstraint(m, d);
    memcpy(qpos + row * nq, d->qpos, sizeof(mjtNum) * (size_t)nq);
    memcpy(qvel + row * nv, d->qvel, sizeof(mjtNum) * (size_t)nv);
    if (ant) {
        after[2 * row] = d->xpos[3 * body];
        after[2 * row + 1] = d->xpos[3 * body + 1];
        memcpy(cfrc + row * nb * 6, d->cfrc_ext, sizeof(mjtNum) * (size_t)(nb * 6));
    } else {
        after[2 * row] = d->qpos[0];
    }
}

/* The v5 formulas' parameters (envs/batched.py reads them from the env), for v5_outputs */
typedef struct {
    int ant;          /* Ant-v5 (else HalfCheetah-v5) */
    int skip;         /* the leading qpos entries the observation leaves out */
    int cfrc;         /* Ant: the clipped contact forces of bodies 1.. end the observation */
    int terminate;    /* Ant: an unhealthy step terminates */
    int ctrl_f32;     /* the actions were float32: their cost is float32 arithmetic */
    int obs_dim;      /* the observation's width (the row stride of obs) */
    double dt, w_forward, w_ctrl, w_contact, healthy_reward, z_lo, z_hi, f_lo, f_hi;
} pa_v5;

/* np.clip(x, lo, hi) for one float64, as NumPy 2 computes it: a NaN value or bound gives NaN,
 * a value equal to a bound is kept (its sign of zero too), hi wins over lo */
static inline double clip_(double x, double lo, double hi) {
    const double m = isnan(x) ? x : (isnan(lo) ? lo : (x < lo ? lo : x));
    return isnan(m) ? m : (isnan(hi) ? hi : (m > hi ? hi : m));
}

/* NumPy's sum of a contiguous run of at most 128 values (its pairwise sum splits longer runs in
 * halves: envs/batched.py takes this path only for runs that short): one by one under 8, else
 * 8 partial sums over the whole blocks of 8, added pairwise, then the tail one by one. Each
 * value is squared first (np.sum(np.square(a))), in the accumulator's type T. */
#define PAIRWISE_SQUARES_(NAME, T, LOAD)                                                   \
    static T NAME(const double *a, int n) {                                              \
        T r[8], res = 0;                                                                 \
        int i = 0;                                                                       \
        if (n < 8) {                                                                     \
            for (; i < n; i++) res += (T)(LOAD(a[i]) * LOAD(a[i]));                      \
            return res;                                                                  \
        }                                                                                \
        for (int j = 0; j < 8; j++) r[j] = (T)(LOAD(a[j]) * LOAD(a[j]));                 \
        for (i = 8; i < n - n % 8; i += 8)                                               \
            for (int j = 0; j < 8; j++) r[j] += (T)(LOAD(a[i + j]) * LOAD(a[i + j]));    \
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));         \
        for (; i < n; i++) res += (T)(LOAD(a[i]) * LOAD(a[i]));                          \
        return res;                                                                      \
    }
#define AS_DOUBLE_(x) (x)
#define AS_FLOAT_(x) ((float)(x))
PAIRWISE_SQUARES_(squares_f64_, double, AS_DOUBLE_)
PAIRWISE_SQUARES_(squares_f32_, float, AS_FLOAT_) /* (a float32 action widened exactly) */

/* Slot `row`'s observation, reward and termination from the rows the physics wrote, as
 * Gymnasium's v5 step computes them (envs/batched.py's NumPy formulas, term for term), into
 * row r of obs, reward and terminated (r: the slot's place in the call). The contact forces
 * are clipped into cl (nbody * 6 doubles, the thread's own). */
static void v5_outputs(const pa_v5 *p, int64_t r, int64_t row, int nq, int nv, int nu, int nb,
                       const double *ctrl, const double *qpos, const double *qvel,
                       const double *before, const double *after, const double *cfrc,
                       double *obs, double *reward, uint8_t *terminated, double *cl) {
    const double *q = qpos + row * nq, *v = qvel + row * nv, *u = ctrl + row * nu;
    double *o = obs + r * p->obs_dim;
    int k = 0;
    for (int j = p->skip; j < nq; j++) o[k++] = q[j];
    for (int j = 0; j < nv; j++) o[k++] = v[j];
    /* w * sum(a ** 2) in the action's dtype (a float32 product for float32 actions) */
    const double ctrl_cost = p->ctrl_f32 ? (double)((float)p->w_ctrl * squares_f32_(u, nu))
                                         : p->w_ctrl * squares_f64_(u, nu);
    const double x_velocity = (after[2 * row] - before[2 * row]) / p->dt;
    if (!p->ant) {
        reward[r] = p->w_forward * x_velocity - ctrl_cost;
        terminated[r] = 0;
        return;
    }
    const double *f = cfrc + row * nb * 6;
    for (int j = 0; j < nb * 6; j++) cl[j] = clip_(f[j], p->f_lo, p->f_hi);
    if (p->cfrc)
        for (int j = 6; j < nb * 6; j++) o[k++] = cl[j];
    int finite = 1;
    for (int j = 0; j < nq; j++) finite &= isfinite(q[j]) != 0;
    for (int j = 0; j < nv; j++) finite &= isfinite(v[j]) != 0;
    const int healthy = finite && p->z_lo <= q[2] && q[2] <= p->z_hi;
    const double forward = x_velocity * p->w_forward;
    const double survive = (double)healthy * p->healthy_reward;
    const double contact_cost = p->w_contact * squares_f64_(cl, nb * 6);
    reward[r] = (forward + survive) - (ctrl_cost + contact_cost);
    terminated[r] = (uint8_t)(!healthy && p->terminate);
}

/* The step of slots rows[0..n) (distinct, each in [0, rows of the outputs): the caller's
 * checks); slot rows[r]'s model and data are models[rows[r]] and datas[rows[r]]. A slot whose
 * model's sizes are not `sizes` (nq, nv, nu, nbody: the outputs' widths) is not stepped and
 * fails. With v5 (else NULL), each slot that stepped also gets its row r of obs [n, obs_dim],
 * reward [n] and terminated [n] (v5_outputs). Returns the number of slots that failed
 * (failed[r] set for each), or -1 without stepping any slot when pa_error is no longer MuJoCo's
 * error handler (something set another since pa_install). */
int pa_physics_step(int64_t n, const int64_t *models, const int64_t *datas, const int64_t *rows,
                    const int32_t *sizes, const double *ctrl, int nstep, int ant, int body,
                    int n_threads, double *qpos, double *qvel, double *before, double *after,
                    double *cfrc, int32_t *failed, char *errors, const pa_v5 *v5, double *obs,
                    double *reward, uint8_t *terminated) {
    if (mju_user_error != pa_error) return -1;
    int n_failed = 0;
    const int nb = sizes[3];
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) reduction(+ : n_failed)
    for (int64_t r = 0; r < n; r++) {
        const int64_t row = rows[r];
        const mjModel *m = (const mjModel *)(intptr_t)models[row];
        jmp_buf jump;
        failed[r] = 0;
        pa_message = errors + r * ERROR_LEN;
        if (m->nq != sizes[0] || m->nv != sizes[1] || m->nu != sizes[2] || m->nbody != sizes[3]) {
            snprintf(pa_message, ERROR_LEN,
                     "its model has nq %d, nv %d, nu %d, nbody %d; the batch was built for "
                     "%d, %d, %d, %d",
                     m->nq, m->nv, m->nu, m->nbody, sizes[0], sizes[1], sizes[2], sizes[3]);
            failed[r] = 2;
            n_failed++;
            continue;
        }
        if (setjmp(jump) == 0) {
            pa_jump = &jump;
            slot_step(m, (mjData *)(intptr_t)datas[row], row, ctrl, nstep, ant, body, qpos, qvel,
                      before, after, cfrc);
            if (v5 != NULL) {
                double cl[nb * 6]; /* (a VLA: nbody is small) */
                v5_outputs(v5, r, row, sizes[0], sizes[1], sizes[2], nb, ctrl, qpos, qvel, before,
                           after, cfrc, obs, reward, terminated, cl);
            }
        } else {
            failed[r] = 1;
            n_failed++;
        }
        pa_jump = NULL;
    }
    return n_failed;
}
