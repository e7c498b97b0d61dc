"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

While active, a customer buys at a steady personal rate (gamma-distributed across customers:
r, alpha); after any purchase they may drop out for good (probability beta-distributed: a, b).
From each member's history -- x repeat purchase days, t_x the time of the last one and T the
time since the first, all measured from the first purchase -- the model gives the probability the
member is still a customer and the purchases to expect next. Time is in weeks, as in the paper.

Pure numpy/scipy on per-member summaries; the summaries are read from
the database by services.segments.model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

DAYS_PER_WEEK = 7.0


@dataclass(frozen=True)
class BgNbdFit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    # Why these numbers mean nothing (the optimiser stopped on a bound or failed), or None.
    not_fitted: str | None = None

    def as_dict(self) -> dict:
        return {
            "r": round(self.r, 4),
            "alpha": round(self.alpha, 4),
            "a": round(self.a, 4),
            "b": round(self.b, 4),
            "log_likelihood": round(self.log_likelihood, 2),
            "customers": self.customers,
        }


class _Summaries:
    """Summaries with repeated values factored out. The likelihood's terms depend on x alone, on
    (x, T) -- dropping out after the last purchase -- or, for repeat buyers, on (x, t_x): each is
    evaluated once per distinct value or pair, and only what mixes the two pairs is computed per
    summary, summed back per pair with bincount."""

    def __init__(self, x, t_x, T, weights) -> None:
        x, t_x, T, w = (np.asarray(v, dtype=float) for v in (x, t_x, T, weights))
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.w_x = np.bincount(x_index, weights=w, minlength=len(self.x_values))
        pairs, self.p_index = _pairs(x, T)
        self.p_x, self.p_T = pairs
        self.w_p = np.bincount(self.p_index, weights=w, minlength=len(self.p_x))
        repeat = x > 0
        pairs, self.q_index = _pairs(x[repeat], t_x[repeat])
        self.q_x, self.q_tx = pairs
        self.p_index = self.p_index[repeat]
        self.w_repeat = w[repeat]
        self.customers = int(w.sum())

    def negative_ll_and_gradient(self, log_params: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(log_params)
        xv, w_x = self.x_values, self.w_x
        a12 = (
            gammaln(r + xv)
            - gammaln(r)
            + r * np.log(alpha)
            + gammaln(a + b)
            + gammaln(b + xv)
            - gammaln(b)
            - gammaln(a + b + xv)
        )
        # Per (x, T): still alive at T; per (x, t_x), repeat buyers: dropped out at t_x.
        log_aT = np.log(alpha + self.p_T)
        a3 = -(r + self.p_x) * log_aT
        log_atx = np.log(alpha + self.q_tx)
        a4 = np.log(a) - np.log(b + self.q_x - 1) - (r + self.q_x) * log_atx
        # Per repeat buyer's summary: log(e^a3 + e^a4) = a3 + log(1 + e^(a4 - a3)), and the
        # share of the second term.
        d = a4[self.q_index] - a3[self.p_index]
        ll = np.dot(w_x, a12) + np.dot(self.w_p, a3) + np.dot(self.w_repeat, np.logaddexp(0, d))
        w_s4 = self.w_repeat * expit(d)
        s4_q = np.bincount(self.q_index, weights=w_s4, minlength=len(a4))
        s3_p = self.w_p - np.bincount(self.p_index, weights=w_s4, minlength=len(a3))
        grad = np.array(
            [
                np.dot(w_x, digamma(r + xv) - digamma(r) + np.log(alpha))
                - np.dot(s3_p, log_aT)
                - np.dot(s4_q, log_atx),
                r / alpha * w_x.sum()
                - np.dot(s3_p, (r + self.p_x) / (alpha + self.p_T))
                - np.dot(s4_q, (r + self.q_x) / (alpha + self.q_tx)),
                np.dot(w_x, digamma(a + b) - digamma(a + b + xv)) + s4_q.sum() / a,
                np.dot(w_x, digamma(a + b) + digamma(b + xv) - digamma(b) - digamma(a + b + xv))
                - np.dot(s4_q, 1 / (b + self.q_x - 1)),
            ]
        )
        # Chain rule for the log-parameters the optimiser moves.
        grad *= np.array([r, alpha, a, b])
        return -float(ll), -grad


def _pairs(u, v) -> tuple:
    """The distinct (u, v) pairs (as two arrays) and each row's pair."""
    if not len(u):
        return (np.zeros(0), np.zeros(0)), np.zeros(0, dtype=np.intp)
    order = np.lexsort((v, u))
    su, sv = u[order], v[order]
    new = np.empty(len(u), dtype=bool)
    new[0] = True
    new[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])
    index = np.empty(len(u), dtype=np.intp)
    index[order] = np.cumsum(new) - 1
    return (su[new], sv[new]), index


def fit(x, t_x, T, weights=None, start: dict | None = None) -> BgNbdFit:
    """Maximum-likelihood r, alpha, a, b for members' (x, t_x, T) in weeks; weights count members
    sharing the same summary. `start` (r, alpha, a, b, e.g. yesterday's fit on nearly the same
    members) is where the optimiser begins; without it, at 1, 1, 1, 1."""
    weights = np.ones(len(x)) if weights is None else weights
    data = _Summaries(x, t_x, T, weights)
    # One BLAS thread: the fit's dot products are too small for OpenBLAS's worker threads, which
    # spin and, in the refresh, take the core PostgreSQL is scoring on (1,000,000 members: the
    # fit took 6.1 s with them, 2.0 s without).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            data.negative_ll_and_gradient,
            x0=_start(start),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-10.0, 10.0)] * 4,
            options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-8},
        )
    r, alpha, a, b = np.exp(result.x)
    return BgNbdFit(
        float(r),
        float(alpha),
        float(a),
        float(b),
        float(-result.fun),
        data.customers,
        _not_fitted(result),
    )


# Log-parameters within this of a bound (+-10: e^10 = 22,026.47, e^-10 = 0.0000454) are on it.
_AT_BOUND = 1e-3


def _not_fitted(result) -> str | None:
    """Why the optimiser's answer is no fit: it failed, or a parameter ended on a bound (the
    likelihood still rising past it: the data cannot tell that parameter, e.g. nobody seen to
    drop out gives a -> 0 and b -> infinity), so its odds would be numbers that mean nothing."""
    names = ("r", "alpha", "a", "b")
    on_bound = [
        f"{name}={float(np.exp(value)):.6g}"
        for name, value in zip(names, result.x, strict=True)
        if abs(abs(value) - 10.0) < _AT_BOUND
    ]
    if on_bound:
        return "a parameter ended on its bound: " + ", ".join(on_bound)
    if not result.success:
        return f"the optimiser did not converge: {result.message}"
    return None


def _start(start: dict | None) -> np.ndarray:
    if not start:
        return np.zeros(4)
    values = np.array([float(start[k]) for k in ("r", "alpha", "a", "b")])
    if not (np.isfinite(values).all() and (values > 0).all()):
        return np.zeros(4)
    return np.clip(np.log(values), -10.0, 10.0)


def p_alive(model: BgNbdFit, x, t_x, T) -> np.ndarray:
    """Probability each member is still a customer (1 for members with no repeat purchase yet)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    return expit(-_log_odds_dead(model, x, t_x, T))


def _log_odds_dead(model: BgNbdFit, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    safe_b = np.where(x > 0, b + x - 1, 1.0)
    log_odds = np.log(a) - np.log(safe_b) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, log_odds, -np.inf)


def expected_purchases(model: BgNbdFit, t: float, x, t_x, T) -> np.ndarray:
    """Purchases each member is expected to make in the next t weeks (paper, equation 10): a
    term of (x, T), evaluated once per distinct pair (the hypergeometric function is the costly
    part), times the odds of being alive."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    (px, pT), index = _pairs(x, T)
    with np.errstate(all="ignore"):
        hyper = hyp2f1(r + px, b + px, a + b + px - 1, t / (alpha + pT + t))
        body = (
            (a + b + px - 1) / (a - 1) * (1 - ((alpha + pT) / (alpha + pT + t)) ** (r + px) * hyper)
        )
        expected = body[index] * p_alive(model, x, t_x, T)
    return np.where(np.isfinite(expected), np.maximum(expected, 0.0), np.nan)
