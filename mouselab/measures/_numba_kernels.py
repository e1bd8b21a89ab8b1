"""Compiled (numba) kernels: the whole mousetrap measure set in one pass per trial, and sample entropy.

Imported only through :func:`mouselab.measures._kernels.kernels` (numba is an optional extra, ``fast``).
Every kernel reproduces the arithmetic of the NumPy reference implementation in
:mod:`mouselab.measures.spatial` / :mod:`~mouselab.measures.temporal` / :mod:`~mouselab.measures.entropy`
operation by operation (no ``fastmath``, so no re-association and no fused multiply-add); only sums are
accumulated sequentially instead of pairwise, which changes results by a few ulp at most. Tests check both
engines agree within 1e-9 and both match mousetrap within 1e-6.

Kernels take flat arrays of all trials plus segment offsets and release the GIL, so blocks of trials run
on several Python threads at once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Column order of :func:`mousetrap_block`'s output (one row per trial).
MOUSETRAP_COLUMNS = (
    "xpos_max", "xpos_min", "ypos_max", "ypos_min", "MAD", "MAD_time", "MD_above", "MD_above_time",
    "MD_below", "MD_below_time", "AD", "AUC", "xpos_flips", "ypos_flips", "xpos_reversals", "ypos_reversals",
    "RT", "initiation_time", "idle_time", "total_dist", "vel_max", "vel_max_time", "vel_min", "vel_min_time",
    "acc_max", "acc_max_time", "acc_min", "acc_min_time", "path_efficiency",
)
_OPTS = dict(cache=True, nogil=True, error_model="numpy")


@njit(**_OPTS)
def _sign_changes(values: np.ndarray, lo: int, hi: int, threshold: float) -> int:
    """mousetrap's count_changes on the steps values[k] - values[k-1], k = lo+1..hi: zero steps dropped,
    equal-sign steps merged into runs, runs with |sum| <= threshold dropped, sign changes between the
    remaining consecutive runs counted. Branch-free for threshold 0 (noisy data defeats branch prediction)."""
    if threshold == 0.0:
        count = 0
        last = 0
        for k in range(lo + 1, hi + 1):
            step = values[k] - values[k - 1]
            sign = (step > 0.0) - (step < 0.0)
            count += (sign * last) < 0
            last = sign + (sign == 0) * last
        return count
    count = 0
    last_sign = 0  # sign of the last kept run (0: none yet)
    run_sign = 0
    run_sum = 0.0
    for k in range(lo + 1, hi + 1):
        step = values[k] - values[k - 1]
        if step == 0.0:
            continue
        sign = 1 if step > 0 else -1
        if sign == run_sign:
            run_sum += step
        else:
            if run_sign != 0 and abs(run_sum) > threshold:
                if last_sign != 0 and run_sign != last_sign:
                    count += 1
                last_sign = run_sign
            run_sign = sign
            run_sum = step
    if run_sign != 0 and abs(run_sum) > threshold:
        if last_sign != 0 and run_sign != last_sign:
            count += 1
    return count


@njit(**_OPTS)
def mousetrap_block(t, x, y, starts, lengths, flip_threshold, out):
    """Fill ``out`` (n_trials, len(MOUSETRAP_COLUMNS)) with the mousetrap measures of every trial.

    Returns -1 when all timestamps strictly increase within their trial, else the first offending row.
    Per trial, element-wise loops (vectorised by the compiler: projections, deviations, step lengths and
    speeds into scratch arrays) are followed by scans for sums and first extremes.
    """
    bad_row = -1
    threshold = abs(flip_threshold)
    width = 1
    for tr in range(lengths.shape[0]):
        if lengths[tr] > width:
            width = lengths[tr]
    dev = np.empty(width)
    pos = np.empty(width)
    vel = np.empty(width)
    dist = np.empty(width)
    dts = np.empty(width)
    still = np.empty(width)
    for tr in range(starts.shape[0]):
        lo = starts[tr]
        n = lengths[tr]
        hi = lo + n - 1
        xs = x[lo:lo + n]
        ys = y[lo:lo + n]
        ts = t[lo:lo + n]
        x1 = xs[0]
        y1 = ys[0]
        ex = xs[n - 1] - x1
        ey = ys[n - 1] - y1
        denom = ex * ex + ey * ey
        length = math.sqrt(denom)
        down = y1 > ys[n - 1]
        t_first = ts[0]
        lead_in = t_first if t_first > 0.0 else 0.0
        # -- element-wise: deviation from the direct path and position along it (NumPy reference order)
        if denom == 0.0:
            for k in range(n):
                ddx = x1 - xs[k]
                ddy = y1 - ys[k]
                dev[k] = math.sqrt(ddx * ddx + ddy * ddy) * (1.0 - 2.0 * ((y1 > ys[k]) != down))
                pos[k] = 0.0
        else:
            for k in range(n):
                u = (xs[k] - x1) * ex
                u += (ys[k] - y1) * ey
                u /= denom
                px = u * ex + x1
                py = u * ey + y1
                ddx = px - xs[k]
                ddy = py - ys[k]
                dev[k] = math.sqrt(ddx * ddx + ddy * ddy) * (1.0 - 2.0 * ((py > ys[k]) != down))
                pos[k] = u * length
            if ey == 0.0:
                for k in range(n):
                    pos[k] = abs(pos[k])
        # -- element-wise: steps
        vel[0] = 0.0
        dist[0] = 0.0
        dts[0] = 1.0
        still[0] = 0.0
        for k in range(1, n):
            dx = xs[k] - xs[k - 1]
            dy = ys[k] - ys[k - 1]
            dt = ts[k] - ts[k - 1]
            d = math.sqrt(dx * dx + dy * dy)
            dist[k] = d
            vel[k] = d / dt
            dts[k] = dt
            still[k] = dt * ((dx == 0.0) & (dy == 0.0))
        # -- one scalar scan with independent chains (sums, first extremes, flips, crossings)
        xmax = xs[0]
        xmin = xs[0]
        ymax = ys[0]
        ymin = ys[0]
        dev_sum = dev[0]
        auc = 0.0
        total = 0.0
        idle = 0.0
        dev_max = dev[0]
        dev_min = dev[0]
        i_dev_max = 0
        i_dev_min = 0
        abs_max = abs(dev[0])
        i_abs = 0
        vel_max = 0.0
        i_vel_max = 0
        first_move = -1
        min_dt = 1.0
        acc_max = 0.0
        i_acc_max = 0
        acc_min = 0.0
        i_acc_min = 0
        fx = 0
        fy = 0
        lx = 0
        ly = 0
        cx = 0
        cy = 0
        sx = (xs[0] > 0.0) - (xs[0] < 0.0)
        sy = (ys[0] > 0.0) - (ys[0] < 0.0)
        for k in range(1, n):
            xv = xs[k]
            yv = ys[k]
            xmax = xv if xv > xmax else xmax
            xmin = xv if xv < xmin else xmin
            ymax = yv if yv > ymax else ymax
            ymin = yv if yv < ymin else ymin
            d = dev[k]
            dev_sum += d
            auc += pos[k - 1] * d - pos[k] * dev[k - 1]
            total += dist[k]
            idle += still[k]
            if d > dev_max:
                dev_max = d
                i_dev_max = k
            if d < dev_min:
                dev_min = d
                i_dev_min = k
            a = abs(d)
            if a > abs_max:
                abs_max = a
                i_abs = k
            v = vel[k]
            if v > vel_max:
                vel_max = v
                i_vel_max = k
            if first_move < 0 and dist[k] > 0.0:
                first_move = k
            dtk = dts[k]
            min_dt = dtk if dtk < min_dt else min_dt
            if k >= 2:  # acc at sample k-1 = (vel[k] - vel[k-1]) / dt[k-1]
                acc = (v - vel[k - 1]) / dts[k - 1]
                if acc > acc_max:
                    acc_max = acc
                    i_acc_max = k - 1
                if acc < acc_min:
                    acc_min = acc
                    i_acc_min = k - 1
            # flips (threshold 0) and crossings of 0, branch-free
            stx = xv - xs[k - 1]
            s = (stx > 0.0) - (stx < 0.0)
            fx += (s * lx) < 0
            lx = s + (s == 0) * lx
            sty = yv - ys[k - 1]
            s = (sty > 0.0) - (sty < 0.0)
            fy += (s * ly) < 0
            ly = s + (s == 0) * ly
            s = (xv > 0.0) - (xv < 0.0)
            cx += (s * sx) < 0
            sx = s + (s == 0) * sx
            s = (yv > 0.0) - (yv < 0.0)
            cy += (s * sy) < 0
            sy = s + (s == 0) * sy
        if threshold > 0.0:
            fx = _sign_changes(x, lo, hi, threshold)
            fy = _sign_changes(y, lo, hi, threshold)
        if min_dt <= 0.0 and bad_row < 0:
            for k in range(1, n):
                if dts[k] <= 0.0:
                    bad_row = lo + k
                    break
        o = out[tr]
        o[0] = xmax
        o[1] = xmin
        o[2] = ymax
        o[3] = ymin
        o[4] = dev[i_abs]
        o[5] = 0.0 if (i_abs == 0 and t_first > 0.0) else ts[i_abs]
        o[6] = dev_max
        o[7] = 0.0 if (i_dev_max == 0 and t_first > 0.0) else ts[i_dev_max]
        o[8] = dev_min
        o[9] = 0.0 if (i_dev_min == 0 and t_first > 0.0) else ts[i_dev_min]
        o[10] = dev_sum / n
        o[11] = -0.5 * auc
        o[12] = fx
        o[13] = fy
        o[14] = cx
        o[15] = cy
        o[16] = ts[n - 1]
        before = ts[first_move - 1] if first_move >= 0 else ts[n - 1]
        o[17] = before - t_first + lead_in
        o[18] = idle + lead_in
        o[19] = total
        o[20] = vel_max
        o[21] = ts[i_vel_max - 1] if i_vel_max != 0 else ts[0]
        o[22] = 0.0
        o[23] = ts[0]
        o[24] = acc_max
        o[25] = ts[i_acc_max]
        o[26] = acc_min
        o[27] = ts[i_acc_min]
        if total > 0.0:
            eff = length / total
            o[28] = eff if eff < 1.0 else 1.0
        else:
            o[28] = 1.0
    return bad_row


@njit(**_OPTS)
def time_normalized_diffs(t, v, starts, lengths, n_steps, out, sums):
    """Differences of ``v`` time-normalised to ``n_steps`` equally spaced times (R's ``seq`` + ``approx``):
    ``out`` (n_trials, n_steps - 1); ``sums[tr] = (sum, sum of squares)`` of each trial's differences."""
    half = n_steps // 2
    tn = np.empty(n_steps)
    for tr in range(starts.shape[0]):
        lo = starts[tr]
        hi = lo + lengths[tr] - 1
        first = t[lo]
        last = t[hi]
        by = (last - first) / (n_steps - 1) if n_steps > 1 else 0.0
        p = lo
        top = hi - 1 if hi - 1 > lo else lo
        for i in range(n_steps):
            if i == 0:
                tau = first
            elif i == n_steps - 1:
                tau = last
            elif i < half:
                tau = first + i * by
            else:
                tau = last - (n_steps - 1 - i) * by
            while p < top and t[p + 1] <= tau:
                p += 1
            j = p + 1 if p + 1 <= hi else hi
            ti = t[p]
            tj = t[j]
            if tau == tj:
                tn[i] = v[j]
            elif tau == ti:
                tn[i] = v[p]
            else:
                yi = v[p]
                tn[i] = (v[j] - yi) * ((tau - ti) / (tj - ti)) + yi
        s1 = 0.0
        s2 = 0.0
        row = out[tr]
        for i in range(n_steps - 1):
            d = tn[i + 1] - tn[i]
            row[i] = d
            s1 += d
            s2 += d * d
        sums[tr, 0] = s1
        sums[tr, 1] = s2


#: Rows processed together by :func:`sample_entropy_rows` (positions x rows layout, one SIMD lane per row).
ENTROPY_BATCH = 64


@njit(**_OPTS)
def sample_entropy_rows(d, m, r, out):
    """Sample entropy of every row of ``d`` (see :func:`mouselab.measures.entropy.sample_entropy_matrix`).

    Pairs (i, j = i + L) are visited diagonal by diagonal: walking i downwards, ``run`` is the number of
    consecutive positions from i on where |d[i+s] - d[j+s]| <= r, so a pair of m-windows matches when
    run >= m and of (m+1)-windows when run > m -- O(N²/2) comparisons per row and no data-dependent
    branches. ``ENTROPY_BATCH`` rows are transposed into a positions x rows scratch block so that the
    innermost loop runs over rows (independent, vectorised by the compiler); counts are held as float64
    (exact below 2**53).
    """
    rows, n = d.shape
    n_win = n - m
    if n_win < 2:
        for k in range(rows):
            out[k] = np.nan
        return
    W = ENTROPY_BATCH
    D = np.empty(n * W)
    run = np.empty(W)
    A = np.empty(W)
    B = np.empty(W)
    fm = float(m)
    for lo in range(0, rows, W):
        hi = min(lo + W, rows)
        nb = hi - lo
        for i in range(n):
            for k in range(nb):
                D[i * W + k] = d[lo + k, i]
            for k in range(nb, W):
                D[i * W + k] = np.nan
        A[:] = 0.0
        B[:] = 0.0
        for lag in range(1, n_win):
            limit = n_win - lag  # window starts i with i + lag < n_win
            run[:] = 0.0
            for i in range(n - 1 - lag, limit - 1, -1):
                Di = D[i * W:(i + 1) * W]
                Dj = D[(i + lag) * W:(i + lag + 1) * W]
                for k in range(W):
                    run[k] = (run[k] + 1.0) if abs(Di[k] - Dj[k]) <= r else 0.0
            for i in range(limit - 1, -1, -1):
                Di = D[i * W:(i + 1) * W]
                Dj = D[(i + lag) * W:(i + lag + 1) * W]
                for k in range(W):
                    rk = (run[k] + 1.0) if abs(Di[k] - Dj[k]) <= r else 0.0
                    run[k] = rk
                    B[k] += 1.0 if rk >= fm else 0.0
                    A[k] += 1.0 if rk > fm else 0.0
        for k in range(nb):
            if B[k] == 0.0:
                out[lo + k] = np.nan
            elif A[k] == 0.0:
                out[lo + k] = np.inf
            else:
                out[lo + k] = -math.log(A[k] / B[k])
