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
 * for bit. OpenMP spreads the slots over n_threads threads, each taking the next slot when it
 * finishes one (a slot in heavy contact takes longer); ctypes releases the GIL for the call.
 *
 * A MuJoCo error inside a slot's step (mju_error, e.g. its arena overflowing) would end the
 * process in MuJoCo's default handler: the Python bindings catch errors only in their own calls.
 * pa_install() makes pa_error MuJoCo's error handler (where none is set): inside this step it
 * records the message in the slot's row of `errors` (ERROR_LEN chars), sets failed[r] and jumps
 * back to the slot's loop (the Python side then raises mujoco.FatalError, as the bindings'
 * mj_step would); anywhere else it does what MuJoCo's default does: print and exit. */
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

/* The step of slots rows[0..n) (distinct, each in [0, rows of the outputs): the caller's
 * checks); slot rows[r]'s model and data are models[rows[r]] and datas[rows[r]]. A slot whose
 * model's sizes are not `sizes` (nq, nv, nu, nbody: the outputs' widths) is not stepped and
 * fails. Returns the number of slots that failed (failed[r] set for each), or -1 without
 * stepping any slot when pa_error is no longer MuJoCo's error handler (something set another
 * since pa_install). */
int pa_physics_step(int64_t n, const int64_t *models, const int64_t *datas, const int64_t *rows,
                    const int32_t *sizes, const double *ctrl, int nstep, int ant, int body,
                    int n_threads, double *qpos, double *qvel, double *before, double *after,
                    double *cfrc, int32_t *failed, char *errors) {
    if (mju_user_error != pa_error) return -1;
    int n_failed = 0;
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
        } else {
            failed[r] = 1;
            n_failed++;
        }
        pa_jump = NULL;
    }
    return n_failed;
}
